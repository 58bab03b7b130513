package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.model.HandshakeFailure;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.cert.CertPathValidator;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertPathValidatorException.BasicReason;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateParsingException;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Decides whether a TLS peer is a mesh workload: its chain validates to the mesh CA (PKIX, at the handshake's time),
 * and its leaf names exactly one SPIFFE id, of our trust domain. A client handshake may also require one particular
 * id ({@link #expect}: the destination the route decision chose), so a pod reached at a reused address by another
 * workload is refused before a byte of the app's is sent. Host names play no part. Shared by every handshake of one
 * {@link MeshTls}; thread-safe.
 */
final class SpiffeTrustManager extends X509ExtendedTrustManager {

    private final Set<TrustAnchor> anchors;
    private final X509Certificate[] acceptedIssuers;
    private final String trustDomain;
    // The id a client engine's server must have; weak keys: an engine that never completes its handshake is
    // forgotten with it.
    private final Map<SSLEngine, SpiffeId> expected = Collections.synchronizedMap(new WeakHashMap<>());

    SpiffeTrustManager(Collection<X509Certificate> trustAnchors, String trustDomain) {
        Set<TrustAnchor> set = new HashSet<>();
        for (X509Certificate c : trustAnchors) {
            set.add(new TrustAnchor(c, null));
        }
        this.anchors = Set.copyOf(set);
        this.acceptedIssuers = trustAnchors.toArray(new X509Certificate[0]);
        this.trustDomain = trustDomain;
    }

    /** Requires the server that {@code engine} (a client's) talks to to prove {@code id}. */
    void expect(SSLEngine engine, SpiffeId id) {
        expected.put(engine, id);
    }

    /**
     * The SPIFFE id a verified leaf names.
     *
     * @throws CertificateException if it names none, more than one, or one that is not a workload SPIFFE id
     */
    static SpiffeId identityOf(X509Certificate leaf) throws CertificateException {
        Collection<List<?>> names;
        try {
            names = leaf.getSubjectAlternativeNames();
        } catch (CertificateParsingException e) {
            throw new IdentityRejected(HandshakeFailure.BAD_IDENTITY,
                    "the peer's certificate has unreadable subject alternative names", e);
        }
        String uri = null;
        if (names != null) {
            for (List<?> n : names) {
                if (Integer.valueOf(6).equals(n.get(0))) { // uniformResourceIdentifier
                    if (uri != null) {
                        throw new IdentityRejected(HandshakeFailure.BAD_IDENTITY,
                                "the peer's certificate names more than one URI");
                    }
                    uri = (String) n.get(1);
                }
            }
        }
        if (uri == null) {
            throw new IdentityRejected(HandshakeFailure.BAD_IDENTITY,
                    "the peer's certificate names no SPIFFE id (no URI SAN)");
        }
        try {
            return SpiffeId.parse(uri);
        } catch (IllegalArgumentException e) {
            throw new IdentityRejected(HandshakeFailure.BAD_IDENTITY, "the peer's certificate: " + e.getMessage());
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        verify(chain, null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        SpiffeId required = engine == null ? null : expected.get(engine);
        if (required == null) {
            throw new CertificateException("no server identity is expected on this connection");
        }
        verify(chain, required);
    }

    /** Validates the chain and the leaf's id; {@code required} null: any id of the trust domain. */
    private void verify(X509Certificate[] chain, SpiffeId required) throws CertificateException {
        if (chain == null || chain.length == 0) {
            throw new IdentityRejected(HandshakeFailure.NO_CLIENT_CERTIFICATE, "the peer presented no certificate");
        }
        try {
            PKIXParameters params = new PKIXParameters(anchors);
            params.setRevocationEnabled(false);
            CertPathValidator.getInstance("PKIX").validate(
                    CertificateFactory.getInstance("X.509").generateCertPath(Arrays.asList(chain)), params);
        } catch (CertPathValidatorException e) {
            HandshakeFailure reason = e.getReason() == BasicReason.EXPIRED || e.getReason() == BasicReason.NOT_YET_VALID
                    ? HandshakeFailure.EXPIRED : HandshakeFailure.UNTRUSTED_CA;
            String why = switch (e.getReason()) {
                case BasicReason.EXPIRED -> "has expired";
                case BasicReason.NOT_YET_VALID -> "is not valid yet";
                default -> "does not chain to the mesh CA (" + e.getMessage() + ")";
            };
            throw new IdentityRejected(reason, "the peer's certificate " + why, e);
        } catch (GeneralSecurityException e) {
            throw new CertificateException("cannot validate the peer's chain: " + e, e);
        }
        SpiffeId id = identityOf(chain[0]);
        if (!id.trustDomain().equals(trustDomain)) {
            throw new IdentityRejected(HandshakeFailure.TRUST_DOMAIN,
                    "the peer " + id + " is not of trust domain " + trustDomain);
        }
        if (required != null && !required.equals(id)) {
            throw new IdentityRejected(HandshakeFailure.UNEXPECTED_IDENTITY,
                    "the server is " + id + ", expected " + required);
        }
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return acceptedIssuers.clone();
    }

    // The mesh's TLS runs on Netty's engines only. These forms cannot know a client's expected server: a server is
    // refused through them, a client still checked.

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        verify(chain, null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        checkServerTrusted(chain, authType, (SSLEngine) null);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        verify(chain, null);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        checkServerTrusted(chain, authType, (SSLEngine) null);
    }
}
