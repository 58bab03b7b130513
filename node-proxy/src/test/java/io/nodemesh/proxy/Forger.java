package io.nodemesh.proxy;

import io.nodemesh.proxy.identity.IssuedCertificate;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.model.SpiffeId;
import java.io.Reader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Client certificates the mesh CA would never issue, signed with its real key (read from its directory): one that has
 * expired, one naming a SPIFFE id of another trust domain. What a stolen CA-signed or misconfigured credential looks
 * like to the proxy, for tests that must see it refused.
 */
final class Forger {

    private final PrivateKey caKey;
    private final X509Certificate caCertificate;

    Forger(Path caDir) throws Exception {
        try (Reader in = Files.newBufferedReader(caDir.resolve(MeshCa.KEY_FILE), StandardCharsets.US_ASCII);
             PEMParser pem = new PEMParser(in)) {
            Object key = pem.readObject();
            PrivateKeyInfo info = key instanceof PEMKeyPair pair ? pair.getPrivateKeyInfo() : (PrivateKeyInfo) key;
            this.caKey = new JcaPEMKeyConverter().getPrivateKey(info);
        }
        try (var in = Files.newInputStream(caDir.resolve(MeshCa.CERT_FILE))) {
            this.caCertificate = (X509Certificate) CertificateFactory.getInstance("X.509").generateCertificate(in);
        }
    }

    /** A leaf for {@code id} (any trust domain) valid from {@code notBefore} to {@code notAfter}. */
    IssuedCertificate leaf(SpiffeId id, Instant notBefore, Instant notAfter) throws Exception {
        KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
        generator.initialize(new ECGenParameterSpec("secp256r1"));
        KeyPair pair = generator.generateKeyPair();
        JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(
                new JcaX509CertificateHolder(caCertificate).getSubject(), BigInteger.valueOf(System.nanoTime()),
                Date.from(notBefore), Date.from(notAfter), new X500Name(""), pair.getPublic());
        b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
        b.addExtension(Extension.subjectAlternativeName, true,
                new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString())));
        X509Certificate leaf = new JcaX509CertificateConverter().getCertificate(
                b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(caKey)));
        return new IssuedCertificate(id, pair.getPrivate(), List.of(leaf), List.of(caCertificate));
    }
}
