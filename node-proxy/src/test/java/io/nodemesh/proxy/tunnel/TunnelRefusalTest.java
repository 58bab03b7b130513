package io.nodemesh.proxy.tunnel;

import static io.nodemesh.proxy.tunnel.TunnelTest.connect;
import static io.nodemesh.proxy.tunnel.TunnelTest.random;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.identity.IssuedCertificate;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.model.HandshakeFailure;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.stats.TunnelStats;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Clients the tunnel server must refuse, over real TLS 1.3 against a real {@link TunnelServer}: each refusal is counted
 * under its reason and logged once with the peer's address, and a good tunnel on the same server carries on.
 */
@Timeout(60)
class TunnelRefusalTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private static final char[] NO_PASSWORD = "changeit".toCharArray();

    @Test
    void eachRefusedHandshakeIsCountedByReasonAndAGoodTunnelCarriesOn(@TempDir Path dir) throws Exception {
        MeshCa mesh = MeshCa.create(SpiffeId.DEFAULT_TRUST_DOMAIN, Duration.ofDays(1));
        MeshCa foreign = MeshCa.create(SpiffeId.DEFAULT_TRUST_DOMAIN, Duration.ofDays(1));
        MeshCa otherDomain = MeshCa.create("other.org", Duration.ofDays(1));
        mesh.write(dir, false);
        // A CA whose clock is 50 s behind issues a 1 s certificate: expired when it is presented.
        MeshCa behind = MeshCa.load(dir, SpiffeId.DEFAULT_TRUST_DOMAIN,
                Clock.offset(Clock.systemUTC(), Duration.ofSeconds(-50)));
        // The server trusts the other trust domain's CA too (a federated bundle): only the SPIFFE id tells them apart.
        IssuedCertificate own = mesh.issue(TunnelRig.DESTINATION, Duration.ofHours(1));
        MeshTls server = MeshTls.of(new IssuedCertificate(own.identity(), own.key(), own.chain(),
                List.of(mesh.certificate(), otherDomain.certificate())));
        MeshTls client = MeshTls.of(mesh.issue(TunnelRig.SOURCE, Duration.ofHours(1)));
        TlsSecurity tls = new TlsSecurity(TunnelRig.DESTINATION,
                TunnelTlsTest.held(Map.of(TunnelRig.SOURCE, client, TunnelRig.DESTINATION, server)));

        PrintStream original = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(TunnelSettings.defaults(), TunnelSettings.defaults(), tls,
                     TunnelAuthorizer.ALLOW_ALL);
             Socket good = connect(rig.front(app.address()))) {
            echo(good, 1);

            refuse(rig, foreign.issue(TunnelRig.SOURCE, Duration.ofHours(1)), HandshakeFailure.UNTRUSTED_CA);
            echo(good, 2);
            refuse(rig, behind.issue(TunnelRig.SOURCE, Duration.ofSeconds(1)), HandshakeFailure.EXPIRED);
            refuse(rig, otherDomain.issue(new SpiffeId("other.org", "a", "client"), Duration.ofHours(1)),
                    HandshakeFailure.TRUST_DOMAIN);
            refuse(rig, null, HandshakeFailure.NO_CLIENT_CERTIFICATE);
            echo(good, 3);
            try (Socket plain = new Socket(TunnelRig.LOOPBACK, rig.tunnelAddress.getPort())) {
                plain.getOutputStream().write("CONNECT 10.0.0.1:80 HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                drain(plain);
            }
            awaitRefused(rig, HandshakeFailure.NOT_TLS);
            echo(good, 4);

            TunnelStats.Totals totals = rig.stats.totals(rig.pool.connectionCount());
            assertThat(totals.handshakeFailures()).containsEntry(HandshakeFailure.UNTRUSTED_CA, 1L)
                    .containsEntry(HandshakeFailure.EXPIRED, 1L).containsEntry(HandshakeFailure.TRUST_DOMAIN, 1L)
                    .containsEntry(HandshakeFailure.NO_CLIENT_CERTIFICATE, 1L)
                    .containsEntry(HandshakeFailure.NOT_TLS, 1L).containsEntry(HandshakeFailure.OTHER, 0L);
            assertThat(totals.handshakeFailureCount()).isEqualTo(5);
            assertThat(totals.serverConnections()).as("the good tunnel and the five refused").isEqualTo(6);
            assertThat(totals.pooledConnections()).as("the good tunnel is still pooled").isEqualTo(1);
            assertThat(rig.peers).as("no refused client reached a stream").containsOnly(TunnelRig.SOURCE);
            assertThat(totals.report().get("server")).asString()
                    .contains("handshakeFailures=5", "untrusted_ca=1", "not_tls=1");
        } finally {
            System.setErr(original);
        }
        List<String> refusals = err.toString(StandardCharsets.UTF_8).lines()
                .filter(l -> l.contains("refused a handshake from 127.0.0.1:")).toList();
        assertThat(refusals).hasSize(5);
        assertThat(String.join("\n", refusals)).contains(": untrusted_ca (the peer's certificate does not chain",
                ": expired (the peer's certificate has expired)", ": trust_domain (the peer spiffe://other.org/",
                ": no_client_certificate (", ": not_tls (");
    }

    /** Writes a few bytes through the long-lived tunnel and reads them back. */
    private static void echo(Socket s, int seed) throws IOException {
        byte[] sent = random(4096, seed);
        s.getOutputStream().write(sent);
        assertThat(s.getInputStream().readNBytes(sent.length)).isEqualTo(sent);
    }

    /** Handshakes with the tunnel server presenting {@code certificate} (none if null) and waits for the refusal. */
    private static void refuse(TunnelRig rig, IssuedCertificate certificate, HandshakeFailure reason)
            throws Exception {
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        KeyManagerFactory keys = null;
        if (certificate != null) {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("client", certificate.key(), NO_PASSWORD,
                    certificate.chain().toArray(new X509Certificate[0]));
            keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            keys.init(store, NO_PASSWORD);
        }
        context.init(keys == null ? null : keys.getKeyManagers(), new TrustManager[] {new TrustingAnyServer()}, null);
        try (SSLSocket s = (SSLSocket) context.getSocketFactory().createSocket(TunnelRig.LOOPBACK,
                rig.tunnelAddress.getPort())) {
            s.setSoTimeout(5000);
            try {
                s.startHandshake(); // in TLS 1.3 the client is done before the server has judged its certificate
            } catch (IOException refusedAlready) {
                // the server's alert came first
            }
            drain(s);
        }
        awaitRefused(rig, reason);
    }

    /** Reads until the server closes (an alert, a close_notify or a reset). */
    private static void drain(Socket s) {
        try {
            s.setSoTimeout(5000);
            while (s.getInputStream().read() >= 0) {
                // nothing the server sends a refused client is of interest
            }
        } catch (IOException closed) {
            // refused
        }
    }

    private static void awaitRefused(TunnelRig rig, HandshakeFailure reason) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (rig.stats.totals(0).handshakeFailures().get(reason) != 1) {
            assertThat(System.nanoTime()).as("waiting for a refusal counted as " + reason.label())
                    .isLessThan(deadline);
            Thread.sleep(10);
        }
    }

    /** The refused client does not care who the server is: only the server's judgement is under test. */
    private static final class TrustingAnyServer implements X509TrustManager {
        @Override
        public void checkClientTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public void checkServerTrusted(X509Certificate[] chain, String authType) {
        }

        @Override
        public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
        }
    }
}
