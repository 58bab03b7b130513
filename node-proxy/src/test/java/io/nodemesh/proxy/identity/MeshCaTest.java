package io.nodemesh.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.model.SpiffeId;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.PrivateKey;
import java.security.cert.CertPathValidator;
import java.security.cert.CertificateFactory;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.interfaces.ECPublicKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Set;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.util.io.pem.PemObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MeshCaTest {

    private static final SpiffeId PAY = new SpiffeId("cluster.local", "pay", "payments");

    @TempDir
    Path dir;

    @Test
    void aLeafNamesOnlyItsSpiffeIdWithAP256KeyAndChainsToTheCa() throws Exception {
        MeshCa ca = MeshCa.create("cluster.local", Duration.ofDays(30));
        IssuedCertificate issued = ca.issue(PAY, Duration.ofHours(24));
        X509Certificate leaf = issued.leaf();

        assertThat(leaf.getSubjectX500Principal().getName()).isEmpty();
        assertThat(leaf.getSubjectAlternativeNames()).containsExactly(List.of(6, "spiffe://cluster.local/ns/pay/sa/payments"));
        assertThat(leaf.getCriticalExtensionOIDs()).contains("2.5.29.17"); // SAN critical: the subject is empty
        assertThat(leaf.getBasicConstraints()).isEqualTo(-1);
        assertThat(leaf.getExtendedKeyUsage()).containsExactlyInAnyOrder("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2");
        assertThat(leaf.getPublicKey()).isInstanceOf(ECPublicKey.class);
        assertThat(((ECPublicKey) leaf.getPublicKey()).getParams().getCurve().getField().getFieldSize()).isEqualTo(256);
        assertThat(issued.key().getAlgorithm()).isEqualTo("EC");
        assertThat(issued.identity()).isEqualTo(PAY);
        assertThat(issued.chain()).containsExactly(leaf);
        assertThat(issued.trustAnchors()).containsExactly(ca.certificate());

        PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(ca.certificate(), null)));
        params.setRevocationEnabled(false);
        CertPathValidator.getInstance("PKIX").validate(
                CertificateFactory.getInstance("X.509").generateCertPath(issued.chain()), params);
    }

    @Test
    void aLeafLivesItsLifetimeFromNowCappedAtTheCasEnd() throws Exception {
        MeshCa.create("cluster.local", Duration.ofDays(2)).write(dir, false);
        Instant created = MeshCa.load(dir, "cluster.local").certificate().getNotBefore().toInstant();
        Instant now = created.plus(Duration.ofMinutes(5));
        MeshCa ca = MeshCa.load(dir, "cluster.local", Clock.fixed(now, ZoneOffset.UTC));

        IssuedCertificate day = ca.issue(PAY, Duration.ofHours(24));
        assertThat(day.notAfter()).isEqualTo(now.plus(Duration.ofHours(24)));
        assertThat(day.notBefore()).isEqualTo(now.minus(MeshCa.CLOCK_SKEW));

        IssuedCertificate capped = ca.issue(PAY, Duration.ofDays(30));
        assertThat(capped.notAfter()).isEqualTo(ca.certificate().getNotAfter().toInstant());
    }

    @Test
    void eachLeafHasItsOwnKeyAndSerial() throws Exception {
        MeshCa ca = MeshCa.create("cluster.local", Duration.ofDays(1));
        IssuedCertificate a = ca.issue(PAY, Duration.ofHours(1));
        IssuedCertificate b = ca.issue(PAY, Duration.ofHours(1));
        assertThat(a.serial()).isNotEqualTo(b.serial());
        assertThat(a.leaf().getPublicKey()).isNotEqualTo(b.leaf().getPublicKey());
    }

    @Test
    void refusesAnIdentityOfAnotherTrustDomain() {
        MeshCa ca = MeshCa.create("cluster.local", Duration.ofDays(1));
        assertThatThrownBy(() -> ca.issue(new SpiffeId("other.org", "pay", "payments"), Duration.ofHours(1)))
                .isInstanceOf(IdentityException.class)
                .hasMessage("cannot issue spiffe://other.org/ns/pay/sa/payments: this CA is for trust domain 'cluster.local'");
    }

    @Test
    void writesAndReadsBackTheSameCaWithAPrivateKeyFile() throws Exception {
        MeshCa ca = MeshCa.create("mesh.example", Duration.ofDays(10));
        ca.write(dir.resolve("ca"), false);

        MeshCa loaded = MeshCa.load(dir.resolve("ca"), "mesh.example");
        assertThat(loaded.certificate()).isEqualTo(ca.certificate());
        assertThat(loaded.fingerprint()).isEqualTo(ca.fingerprint()).matches("([0-9A-F]{2}:){31}[0-9A-F]{2}");
        assertThat(Files.getPosixFilePermissions(dir.resolve("ca").resolve(MeshCa.KEY_FILE)))
                .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(Files.readString(dir.resolve("ca").resolve(MeshCa.KEY_FILE))).startsWith("-----BEGIN PRIVATE KEY-----");
        // The loaded key signs what the certificate vouches for: a leaf from the loaded CA validates on the original.
        IssuedCertificate issued = loaded.issue(new SpiffeId("mesh.example", "a", "b"), Duration.ofHours(1));
        issued.leaf().verify(ca.certificate().getPublicKey());
        try (var files = Files.list(dir.resolve("ca"))) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .containsExactlyInAnyOrder(MeshCa.CERT_FILE, MeshCa.KEY_FILE);
        }
    }

    @Test
    void refusesToOverwriteUnlessAsked() throws Exception {
        MeshCa.create("cluster.local", Duration.ofDays(1)).write(dir, false);
        MeshCa second = MeshCa.create("cluster.local", Duration.ofDays(1));
        assertThatThrownBy(() -> second.write(dir, false))
                .isInstanceOf(IdentityException.class)
                .hasMessageContaining(MeshCa.CERT_FILE + " already exists");
        second.write(dir, true);
        assertThat(MeshCa.load(dir, "cluster.local").certificate()).isEqualTo(second.certificate());
    }

    @Test
    void readsAnEcKeyInOpenSslsTraditionalForm() throws Exception {
        MeshCa ca = MeshCa.create("cluster.local", Duration.ofDays(1));
        ca.write(dir, false);
        PrivateKey key;
        try (PEMParser in = new PEMParser(Files.newBufferedReader(dir.resolve(MeshCa.KEY_FILE)))) {
            key = new JcaPEMKeyConverter().getPrivateKey((PrivateKeyInfo) in.readObject());
        }
        Path sec1 = dir.resolve("sec1");
        Files.createDirectories(sec1);
        Files.copy(dir.resolve(MeshCa.CERT_FILE), sec1.resolve(MeshCa.CERT_FILE));
        // What `openssl ecparam -genkey` writes: SEC1 with the curve and the public key inside.
        PrivateKeyInfo info = PrivateKeyInfo.getInstance(key.getEncoded());
        var sec1Key = new org.bouncycastle.asn1.sec.ECPrivateKey(256, ((ECPrivateKey) key).getS(),
                SubjectPublicKeyInfo.getInstance(ca.certificate().getPublicKey().getEncoded()).getPublicKeyData(),
                info.getPrivateKeyAlgorithm().getParameters());
        writePem(sec1.resolve(MeshCa.KEY_FILE), new PemObject("EC PRIVATE KEY", sec1Key.getEncoded()));

        assertThat(Files.readString(sec1.resolve(MeshCa.KEY_FILE))).startsWith("-----BEGIN EC PRIVATE KEY-----");
        assertThat(MeshCa.load(sec1, "cluster.local").certificate()).isEqualTo(ca.certificate());
    }

    @Test
    void badFilesAreNamedWithTheirProblem() throws Exception {
        Path missing = dir.resolve("nothing");
        assertThatThrownBy(() -> MeshCa.load(missing, "cluster.local"))
                .hasMessage(missing.resolve(MeshCa.CERT_FILE) + ": no such file (make a mesh CA with: nodemesh ca init --dir "
                        + missing + ")");

        MeshCa ca = MeshCa.create("cluster.local", Duration.ofDays(1));
        ca.write(dir, false);
        Path cert = dir.resolve(MeshCa.CERT_FILE);
        Path key = dir.resolve(MeshCa.KEY_FILE);

        String goodKey = Files.readString(key);
        Files.writeString(key, "not a key\n");
        assertThatThrownBy(() -> MeshCa.load(dir, "cluster.local")).hasMessage(key + ": no PEM private key in it");

        Files.writeString(key, Files.readString(cert));
        assertThatThrownBy(() -> MeshCa.load(dir, "cluster.local"))
                .hasMessage(key + ": expected a PEM private key (BEGIN PRIVATE KEY or BEGIN EC PRIVATE KEY), found a certificate");

        MeshCa other = MeshCa.create("cluster.local", Duration.ofDays(1));
        other.write(dir.resolve("other"), false);
        Files.copy(dir.resolve("other").resolve(MeshCa.KEY_FILE), key, StandardCopyOption.REPLACE_EXISTING);
        assertThatThrownBy(() -> MeshCa.load(dir, "cluster.local"))
                .hasMessage(key + ": this key does not belong to the certificate in " + cert);

        Files.writeString(key, goodKey);
        assertThatThrownBy(() -> MeshCa.load(dir, "other.org"))
                .hasMessage(cert + ": the CA is for trust domain 'cluster.local', not 'other.org'");

        Instant later = ca.certificate().getNotAfter().toInstant().plusSeconds(1);
        assertThatThrownBy(() -> MeshCa.load(dir, "cluster.local", Clock.fixed(later, ZoneOffset.UTC)))
                .hasMessage(cert + ": the CA certificate expired on " + ca.certificate().getNotAfter().toInstant());

        // A workload's leaf is no CA.
        IssuedCertificate leaf = ca.issue(PAY, Duration.ofHours(1));
        Path leafDir = dir.resolve("leaf");
        Files.createDirectories(leafDir);
        writePem(leafDir.resolve(MeshCa.CERT_FILE), leaf.leaf());
        writePem(leafDir.resolve(MeshCa.KEY_FILE), new JcaPKCS8Generator(leaf.key(), null));
        assertThatThrownBy(() -> MeshCa.load(leafDir, "cluster.local"))
                .hasMessage(leafDir.resolve(MeshCa.CERT_FILE) + ": not a CA certificate (its basic constraints do not say CA)");

        Files.writeString(cert, goodKey);
        assertThatThrownBy(() -> MeshCa.load(dir, "cluster.local"))
                .hasMessage(cert + ": expected a PEM certificate (BEGIN CERTIFICATE), found a private key");

        Files.writeString(cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assertThatThrownBy(() -> MeshCa.load(dir, "cluster.local"))
                .isInstanceOf(IdentityException.class)
                .hasMessageStartingWith(cert + ": not a readable PEM certificate");
    }

    private static void writePem(Path file, Object object) throws Exception {
        try (JcaPEMWriter w = new JcaPEMWriter(Files.newBufferedWriter(file))) {
            w.writeObject(object);
        }
    }
}
