package io.nodemesh.proxy.identity;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.OpenSslSessionContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslProtocols;
import io.netty.handler.ssl.SslProvider;
import io.nodemesh.proxy.model.HandshakeFailure;
import io.nodemesh.proxy.model.SpiffeId;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Objects;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The mesh's mutual TLS for one workload certificate: a client and a server {@link SslContext} (BoringSSL through
 * netty-tcnative, TLS 1.3 only, ALPN {@code h2}), both trusting only the mesh CA and checking the peer's SPIFFE id
 * ({@link SpiffeTrustManager}); the server asks for a client certificate and {@link #peerIdentity} refuses a client
 * without one. Building one costs two SSL contexts (a few
 * hundred microseconds of CPU and 38 KB, {@code IdentityBenchmark} in jmh-bench/RESULTS.md), so it is built once per
 * certificate, off the event loops
 * ({@link IdentityManager} does), and shared by every connection until the certificate is renewed; handlers are
 * cheap. The contexts are Netty's non-reference-counted kind: a connection still open on a renewed certificate's
 * context keeps it alive, and the garbage collector frees it after.
 *
 * <pre>{@code
 * MeshTls tls = identities.current(source);                                  // the source workload's
 * pipeline.addLast(tls.newClientHandler(ch.alloc(), route.identity()));      // outbound: server must be that id
 * pipeline.addLast(tls.newServerHandler(ch.alloc()));                        // inbound (15008)
 * SpiffeId peer = MeshTls.peerIdentity(sslHandler.engine().getSession());    // after the handshake
 * }</pre>
 *
 * <p>The ALPN setting is the one both Netty providers support (no advertisement on mismatch, accept): a peer without
 * {@code h2} completes the handshake without a protocol, and the HTTP/2 codec behind it refuses the connection.
 * TLS session resumption is off on the client: every connection's server is verified against its expected id.
 *
 * <p>The server's client certificate is optional to BoringSSL and required by {@link #peerIdentity}, which every user
 * of a server handler calls before it reads a byte: BoringSSL's own refusal of a missing certificate can only be told
 * from others by its message text, and a refused handshake is counted by why ({@link #refusal}).
 */
public final class MeshTls {

    private static final ApplicationProtocolConfig ALPN_H2 = new ApplicationProtocolConfig(
            ApplicationProtocolConfig.Protocol.ALPN,
            ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
            ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
            ApplicationProtocolNames.HTTP_2);

    // Netty hands the key to BoringSSL through an in-memory key store. PKCS#12, the JDK's default, encrypts the key with
    // 10,000 rounds of PBKDF2 on the way in and again on the way out: 5 ms of CPU per context on this machine, against
    // 0.1 ms with JKS's cheap wrapping (the store never leaves memory).
    private static final String KEY_STORE = "JKS";

    private final IssuedCertificate certificate;
    private final SpiffeTrustManager trust;
    private final SslContext client;
    private final SslContext server;

    private MeshTls(IssuedCertificate certificate) throws SSLException {
        this.certificate = certificate;
        this.trust = new SpiffeTrustManager(certificate.trustAnchors(), certificate.identity().trustDomain());
        X509Certificate[] chain = certificate.chain().toArray(new X509Certificate[0]);
        this.client = SslContextBuilder.forClient()
                .sslProvider(SslProvider.OPENSSL)
                .protocols(SslProtocols.TLS_v1_3)
                .keyManager(certificate.key(), chain)
                .keyStoreType(KEY_STORE)
                .trustManager(trust)
                .endpointIdentificationAlgorithm(null) // identities are SPIFFE ids, checked by the trust manager
                .applicationProtocolConfig(ALPN_H2)
                .build();
        ((OpenSslSessionContext) client.sessionContext()).setSessionCacheEnabled(false);
        this.server = SslContextBuilder.forServer(certificate.key(), chain)
                .keyStoreType(KEY_STORE)
                .sslProvider(SslProvider.OPENSSL)
                .protocols(SslProtocols.TLS_v1_3)
                .trustManager(trust)
                .clientAuth(ClientAuth.OPTIONAL) // required by peerIdentity, which can say why (see above)
                .applicationProtocolConfig(ALPN_H2)
                .build();
    }

    /**
     * Builds the contexts for {@code certificate}: expensive, once per certificate.
     *
     * @throws IdentityException if BoringSSL is not available or refuses the key or chain
     */
    public static MeshTls of(IssuedCertificate certificate) throws IdentityException {
        Objects.requireNonNull(certificate, "certificate");
        if (!OpenSsl.isAvailable()) {
            throw new IdentityException("the mesh's TLS needs BoringSSL (netty-tcnative-boringssl-static), which did "
                    + "not load: " + OpenSsl.unavailabilityCause());
        }
        try {
            return new MeshTls(certificate);
        } catch (SSLException | RuntimeException e) {
            throw new IdentityException("cannot build TLS contexts for " + certificate.identity() + ": " + e, e);
        }
    }

    /** The certificate these contexts present. */
    public IssuedCertificate certificate() {
        return certificate;
    }

    /** The workload these contexts speak for. */
    public SpiffeId identity() {
        return certificate.identity();
    }

    /**
     * A handler for one outbound connection: presents this certificate and completes the handshake only with a server
     * that proves {@code expectedServer}.
     */
    public SslHandler newClientHandler(ByteBufAllocator alloc, SpiffeId expectedServer) {
        Objects.requireNonNull(expectedServer, "expectedServer");
        SslHandler handler = client.newHandler(alloc);
        trust.expect(handler.engine(), expectedServer);
        return handler;
    }

    /**
     * A handler for one inbound connection: a client certificate, if presented, must be of the mesh (any workload of
     * the trust domain); {@link #peerIdentity} then refuses a client that presented none.
     */
    public SslHandler newServerHandler(ByteBufAllocator alloc) {
        return server.newHandler(alloc);
    }

    /**
     * The peer's SPIFFE id on a session whose handshake completed (the trust manager has already checked it).
     *
     * @throws SSLPeerUnverifiedException if the peer presented no certificate or it names no SPIFFE id; its cause is
     *     the {@link IdentityRejected} saying which
     */
    public static SpiffeId peerIdentity(SSLSession session) throws SSLPeerUnverifiedException {
        Certificate[] chain;
        try {
            chain = session.getPeerCertificates();
        } catch (SSLPeerUnverifiedException e) {
            chain = new Certificate[0];
        }
        try {
            if (chain.length == 0 || !(chain[0] instanceof X509Certificate leaf)) {
                throw new IdentityRejected(HandshakeFailure.NO_CLIENT_CERTIFICATE,
                        "the peer presented no X.509 certificate");
            }
            return SpiffeTrustManager.identityOf(leaf);
        } catch (CertificateException e) {
            SSLPeerUnverifiedException unverified = new SSLPeerUnverifiedException(e.getMessage());
            unverified.initCause(e);
            throw unverified;
        }
    }

    /** Why a handshake failed, and what was wrong in words (for the log). */
    public record Refusal(HandshakeFailure reason, String detail) {
    }

    /**
     * Why a handshake failed with {@code cause}, from the types in its cause chain: the {@link IdentityRejected} our
     * checks threw, Netty's {@link NotSslRecordException} for bytes that are not TLS, otherwise
     * {@link HandshakeFailure#OTHER}.
     */
    public static Refusal refusal(Throwable cause) {
        Throwable t = cause;
        for (int depth = 0; t != null && depth < 8; depth++, t = t.getCause()) { // bounded: a cause chain may loop
            if (t instanceof IdentityRejected rejected) {
                return new Refusal(rejected.reason(), rejected.getMessage());
            }
            if (t instanceof NotSslRecordException) {
                return new Refusal(HandshakeFailure.NOT_TLS, "not a TLS record");
            }
        }
        return new Refusal(HandshakeFailure.OTHER, String.valueOf(cause));
    }

    @Override
    public String toString() {
        return "MeshTls[" + certificate + "]";
    }
}
