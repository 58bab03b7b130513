package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.model.SpiffeId;
import java.io.IOException;
import java.io.Reader;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Date;
import java.util.HexFormat;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.RDN;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMException;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * The mesh CA: a key and a certificate read from two PEM files (in a cluster, a mounted Secret; {@code nodemesh ca
 * init} makes a new pair). It issues each workload an ECDSA P-256 key and a leaf certificate whose only name is the
 * workload's SPIFFE id (a URI SAN, empty subject), signed by the CA. Every proxy of the mesh holds the same CA, so a
 * leaf issued on one node validates on every other. Keys and signatures use the JDK's providers; BouncyCastle only
 * builds certificates and reads and writes PEM.
 */
public final class MeshCa implements CertificateSource {

    /** The certificate's file name in a CA directory (Istio's {@code cacerts} Secret uses the same names). */
    public static final String CERT_FILE = "ca-cert.pem";
    /** The private key's file name in a CA directory (PKCS#8, unencrypted, mode 0600). */
    public static final String KEY_FILE = "ca-key.pem";
    /** The default lifetime of a new CA. */
    public static final Duration DEFAULT_CA_LIFETIME = Duration.ofDays(3650);

    /**
     * How far a certificate's start is set back: a certificate issued on one node is used at once on another whose
     * clock may be a little behind.
     */
    static final Duration CLOCK_SKEW = Duration.ofMinutes(1);

    private static final SecureRandom RANDOM = new SecureRandom();

    private final String trustDomain;
    private final PrivateKey key;
    private final X509Certificate certificate;
    private final String signatureAlgorithm;
    private final Clock clock;

    private MeshCa(String trustDomain, PrivateKey key, X509Certificate certificate, Clock clock) {
        this.trustDomain = trustDomain;
        this.key = key;
        this.certificate = certificate;
        this.signatureAlgorithm = key instanceof ECPrivateKey ? "SHA256withECDSA" : "SHA256withRSA";
        this.clock = clock;
    }

    /**
     * A new CA: an ECDSA P-256 key and a self-signed certificate for {@code spiffe://<trustDomain>}, valid for
     * {@code lifetime}. Kept in memory until {@link #write}.
     *
     * @throws IllegalArgumentException if {@code trustDomain} is not a trust domain name or {@code lifetime} not
     *     positive
     */
    public static MeshCa create(String trustDomain, Duration lifetime) {
        SpiffeId.checkTrustDomain(trustDomain);
        if (lifetime.isNegative() || lifetime.isZero()) {
            throw new IllegalArgumentException("a CA's lifetime must be positive, not " + lifetime);
        }
        Clock clock = Clock.systemUTC();
        KeyPair pair = newKeyPair();
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        X500Name name = new X500Name("O=nodemesh,CN=nodemesh mesh CA " + trustDomain);
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, serial(), Date.from(now.minus(CLOCK_SKEW)),
                Date.from(now.plus(lifetime)), name, pair.getPublic());
        try {
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(0));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
            b.addExtension(Extension.subjectKeyIdentifier, false, ext.createSubjectKeyIdentifier(pair.getPublic()));
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, "spiffe://" + trustDomain)));
            X509Certificate cert = sign(b, pair.getPrivate(), "SHA256withECDSA");
            return new MeshCa(trustDomain, pair.getPrivate(), cert, clock);
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IllegalStateException("cannot make a CA certificate with the JDK's EC provider", e);
        }
    }

    /** Reads the CA in {@code dir} ({@value #CERT_FILE}, {@value #KEY_FILE}) for {@code trustDomain}, on the system clock. */
    public static MeshCa load(Path dir, String trustDomain) throws IdentityException {
        return load(dir, trustDomain, Clock.systemUTC());
    }

    /**
     * Reads the CA in {@code dir} and checks it: the key belongs to the certificate, the certificate is a CA, valid
     * now, and (if it names a trust domain in a {@code spiffe://} URI SAN) of {@code trustDomain}.
     *
     * @param clock what issuing takes as now (tests move it)
     * @throws IdentityException naming the file and the problem
     */
    public static MeshCa load(Path dir, String trustDomain, Clock clock) throws IdentityException {
        SpiffeId.checkTrustDomain(trustDomain);
        Path certFile = dir.resolve(CERT_FILE);
        Path keyFile = dir.resolve(KEY_FILE);
        X509Certificate cert = readCertificate(certFile);
        PrivateKey key = readKey(keyFile);
        if (cert.getBasicConstraints() < 0) {
            throw new IdentityException(certFile + ": not a CA certificate (its basic constraints do not say CA)");
        }
        try {
            cert.checkValidity(Date.from(clock.instant()));
        } catch (CertificateExpiredException e) {
            throw new IdentityException(certFile + ": the CA certificate expired on " + cert.getNotAfter().toInstant());
        } catch (CertificateNotYetValidException e) {
            throw new IdentityException(certFile + ": the CA certificate is not valid before "
                    + cert.getNotBefore().toInstant());
        }
        if (!matches(key, cert.getPublicKey())) {
            throw new IdentityException(keyFile + ": this key does not belong to the certificate in " + certFile);
        }
        String named = namedTrustDomain(cert);
        if (named != null && !named.equals(trustDomain)) {
            throw new IdentityException(certFile + ": the CA is for trust domain '" + named + "', not '" + trustDomain
                    + "'");
        }
        return new MeshCa(trustDomain, key, cert, clock);
    }

    /**
     * Writes the CA to {@code dir} (made if missing): {@value #CERT_FILE} and {@value #KEY_FILE}, the key readable
     * by its owner only (0600) from the moment it exists. Each file is written beside its final name and moved into
     * place, so a reader never sees half of one.
     *
     * @param replace whether files already there may be replaced
     * @throws IdentityException if they exist and {@code replace} is false, or the files cannot be written
     */
    public void write(Path dir, boolean replace) throws IdentityException {
        Path certFile = dir.resolve(CERT_FILE);
        Path keyFile = dir.resolve(KEY_FILE);
        if (!replace) {
            for (Path p : List.of(certFile, keyFile)) {
                if (Files.exists(p)) {
                    throw new IdentityException(p + " already exists (replace it with --force)");
                }
            }
        }
        try {
            Files.createDirectories(dir);
            writeAtomically(keyFile, pem(new JcaPKCS8Generator(key, null)), "rw-------");
            writeAtomically(certFile, pem(certificate), "rw-r--r--");
        } catch (IOException e) {
            throw new IdentityException("cannot write the CA to " + dir + ": " + e);
        }
    }

    @Override
    public String trustDomain() {
        return trustDomain;
    }

    /** The CA certificate: the trust anchor of every leaf it issues. */
    public X509Certificate certificate() {
        return certificate;
    }

    /** The SHA-256 fingerprint of the CA certificate, upper-case hex pairs joined by ':' (as {@code openssl x509 -fingerprint -sha256} prints it). */
    public String fingerprint() {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
            return HexFormat.ofDelimiter(":").withUpperCase().formatHex(digest);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("SHA-256 is missing from the JDK", e);
        }
    }

    /**
     * A new ECDSA P-256 key and a leaf for {@code id}: URI SAN only (critical, the subject is empty), usable as a TLS
     * client and server, valid from a minute ago ({@link #CLOCK_SKEW}) until {@code lifetime} from now, capped at the
     * CA's own end.
     *
     * @throws IdentityException if {@code id} is of another trust domain, the CA has expired or signing fails
     */
    @Override
    public IssuedCertificate issue(SpiffeId id, Duration lifetime) throws IdentityException {
        if (!id.trustDomain().equals(trustDomain)) {
            throw new IdentityException("cannot issue " + id + ": this CA is for trust domain '" + trustDomain + "'");
        }
        if (lifetime.isNegative() || lifetime.isZero()) {
            throw new IllegalArgumentException("a certificate's lifetime must be positive, not " + lifetime);
        }
        Instant now = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        Instant caEnd = certificate.getNotAfter().toInstant();
        if (!now.isBefore(caEnd)) {
            throw new IdentityException("cannot issue " + id + ": the mesh CA expired on " + caEnd);
        }
        Instant end = now.plus(lifetime);
        if (end.isAfter(caEnd)) {
            end = caEnd;
        }
        KeyPair pair = newKeyPair();
        try {
            X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(new JcaX509CertificateHolder(certificate)
                    .getSubject(), serial(), Date.from(now.minus(CLOCK_SKEW)), Date.from(end), new X500Name(new RDN[0]), pair.getPublic());
            JcaX509ExtensionUtils ext = new JcaX509ExtensionUtils();
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(false));
            b.addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature));
            b.addExtension(Extension.extendedKeyUsage, false,
                    new ExtendedKeyUsage(new KeyPurposeId[] {KeyPurposeId.id_kp_serverAuth, KeyPurposeId.id_kp_clientAuth}));
            b.addExtension(Extension.authorityKeyIdentifier, false, ext.createAuthorityKeyIdentifier(certificate));
            b.addExtension(Extension.subjectAlternativeName, true,
                    new GeneralNames(new GeneralName(GeneralName.uniformResourceIdentifier, id.toString())));
            X509Certificate leaf = sign(b, key, signatureAlgorithm);
            return new IssuedCertificate(id, pair.getPrivate(), List.of(leaf), List.of(certificate));
        } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
            throw new IdentityException("cannot issue " + id + ": " + e, e);
        }
    }

    private static X509Certificate sign(X509v3CertificateBuilder b, PrivateKey signer, String algorithm)
            throws OperatorCreationException, GeneralSecurityException {
        var contentSigner = new JcaContentSignerBuilder(algorithm).build(signer);
        return new JcaX509CertificateConverter().getCertificate(b.build(contentSigner));
    }

    private static KeyPair newKeyPair() {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), RANDOM);
            return g.generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("the JDK cannot make P-256 keys", e);
        }
    }

    /** A random positive 127-bit serial (RFC 5280 allows up to 20 octets; unpredictable serials are CA/B practice). */
    private static BigInteger serial() {
        return new BigInteger(127, RANDOM).setBit(0);
    }

    private static boolean matches(PrivateKey key, PublicKey pub) {
        // Sign and verify a probe: works for EC and RSA alike without digging into key internals.
        try {
            String alg = key instanceof ECPrivateKey ? "SHA256withECDSA" : "SHA256withRSA";
            byte[] probe = "nodemesh".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(pub);
            v.update(probe);
            return v.verify(sig);
        } catch (GeneralSecurityException e) {
            return false;
        }
    }

    /** The trust domain of the certificate's {@code spiffe://TD} URI SAN, or null if it has none. */
    private static String namedTrustDomain(X509Certificate cert) {
        try {
            var names = cert.getSubjectAlternativeNames();
            if (names != null) {
                for (List<?> n : names) {
                    if (Integer.valueOf(GeneralName.uniformResourceIdentifier).equals(n.get(0))
                            && n.get(1) instanceof String uri && uri.startsWith("spiffe://")) {
                        String rest = uri.substring("spiffe://".length());
                        int slash = rest.indexOf('/');
                        return slash < 0 ? rest : rest.substring(0, slash);
                    }
                }
            }
            return null;
        } catch (CertificateParsingException e) {
            return null;
        }
    }

    private static X509Certificate readCertificate(Path file) throws IdentityException {
        Object first = readPem(file, "certificate");
        if (!(first instanceof X509CertificateHolder holder)) {
            throw new IdentityException(file + ": expected a PEM certificate (BEGIN CERTIFICATE), found "
                    + describe(first));
        }
        try {
            return new JcaX509CertificateConverter().getCertificate(holder);
        } catch (GeneralSecurityException e) {
            throw new IdentityException(file + ": not a usable X.509 certificate: " + e.getMessage());
        }
    }

    private static PrivateKey readKey(Path file) throws IdentityException {
        Object first = readPem(file, "private key");
        try {
            PrivateKey key = PemKeys.privateKey(first);
            if (key != null) {
                return key;
            }
        } catch (PEMException e) {
            throw new IdentityException(file + ": not a usable private key: " + e.getMessage());
        }
        if (first instanceof PKCS8EncryptedPrivateKeyInfo
                || first instanceof PEMEncryptedKeyPair) {
            throw new IdentityException(file + ": the key is encrypted; the mesh CA's key must be unencrypted");
        }
        throw new IdentityException(file + ": expected a PEM private key (BEGIN PRIVATE KEY or BEGIN EC PRIVATE KEY),"
                + " found " + describe(first));
    }

    /** The first PEM object in {@code file}. */
    private static Object readPem(Path file, String what) throws IdentityException {
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
             PEMParser parser = new PEMParser(in)) {
            Object first = parser.readObject();
            if (first == null) {
                throw new IdentityException(file + ": no PEM " + what + " in it");
            }
            return first;
        } catch (NoSuchFileException e) {
            throw new IdentityException(file + ": no such file (make a mesh CA with: nodemesh ca init --dir "
                    + file.getParent() + ")");
        } catch (AccessDeniedException e) {
            throw new IdentityException(file + ": permission denied");
        } catch (IOException e) {
            throw new IdentityException(file + ": not a readable PEM " + what + " (" + e.getMessage() + ")");
        }
    }

    private static String describe(Object pem) {
        return switch (pem) {
            case X509CertificateHolder c -> "a certificate";
            case PrivateKeyInfo k -> "a private key";
            case PEMKeyPair k -> "a private key";
            default -> "a " + pem.getClass().getSimpleName();
        };
    }

    private static String pem(Object object) throws IOException {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(object);
        }
        return out.toString();
    }

    private static void writeAtomically(Path file, String text, String mode) throws IOException {
        Path tmp = file.resolveSibling("." + file.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        try {
            Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
            Files.writeString(tmp, text, StandardCharsets.US_ASCII);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (FileAlreadyExistsException e) {
            throw new IOException(tmp + " appeared while writing (another ca init at the same time?)", e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    @Override
    public String toString() {
        return "MeshCa[" + trustDomain + ", " + certificate.getSubjectX500Principal() + ", until "
                + certificate.getNotAfter().toInstant() + "]";
    }

}
