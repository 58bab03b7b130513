package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.netty.util.concurrent.Future;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.identity.IdentityManager;
import io.nodemesh.proxy.identity.IssuedCertificate;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.identity.WorkloadCertificates;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.stats.TunnelStats;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.proxy.tunnel.TlsSecurity;
import io.nodemesh.proxy.tunnel.TunnelKey;
import io.nodemesh.proxy.tunnel.TunnelPool;
import io.nodemesh.proxy.tunnel.TunnelRefused;
import io.nodemesh.proxy.tunnel.TunnelSettings;
import io.nodemesh.testing.OwnThreads;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two nodes, one proxy each, a pod on each (A on node 1, B on node 2), both in a strict namespace with a mesh CA: A's
 * connections to B cross the link between the nodes only inside the mutual-TLS tunnel, many of them share a few TLS
 * connections, clients without a good certificate of their own are refused and counted while the others carry on, and
 * certificates renew under connections that stay up.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class TwoNodeTunnelTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final SpiffeId A = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "demo", "a");
    private static final SpiffeId B = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "demo", "b");
    private static final int APP_PORT = 7000;

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    /** The two nodes of a test: pods A and B, their proxies, and the mesh CA's directory. */
    private record Nodes(Netns a, Netns b, TestNode one, TestNode two, Path caDir) {
    }

    /** Pod A on node 1 and pod B on node 2, each node's proxy knowing the other's pod, certificates of {@code lifetime}. */
    private static Nodes twoNodes(String lifetime) throws Exception {
        return twoNodes(lifetime, UnaryOperator.identity());
    }

    /** As {@link #twoNodes(String)}, with {@code options} applied to both nodes' files. */
    private static Nodes twoNodes(String lifetime, UnaryOperator<MeshFile> options) throws Exception {
        Path caDir = mesh.dir().resolve("ca");
        MeshCa.create(SpiffeId.DEFAULT_TRUST_DOMAIN, Duration.ofDays(1)).write(caDir, false);
        Netns a = mesh.pod("a");
        Netns b = mesh.podOnSecondNode("b");
        String strict = "nodemesh.io/peer-authentication: strict";
        TestNode one = mesh.start(options.apply(mesh.config()).identity(caDir, lifetime).demoNamespace(strict).capture(a)
                .elsewhere("node-2", b));
        TestNode two = mesh.startNode("node-2", options.apply(mesh.config()).identity(caDir, lifetime).demoNamespace(strict).capture(b)
                .elsewhere("node-1", a));
        one.proxy.identities().orElseThrow().ready(A).get(10, TimeUnit.SECONDS);
        two.proxy.identities().orElseThrow().ready(B).get(10, TimeUnit.SECONDS);
        mesh.own(EchoServer.start(b, APP_PORT));
        return new Nodes(a, b, one, two, caDir);
    }

    @Test
    void onlyTlsCrossesTheLinkBetweenTheNodesAndTheDestinationKnowsTheSource() throws Exception {
        Nodes n = twoNodes("1h");
        LinkCapture link = mesh.own(LinkCapture.start(mesh.firstNode(), MeshExtension.WIRE,
                mesh.dir().resolve("wire.pcap")));
        String marker = "NODEMESH-CLEARTEXT-MARKER-";
        String payload = marker.repeat(256 * 1024 / marker.length());
        InetSocketAddress to = new InetSocketAddress(n.b().ipv4(), APP_PORT);
        for (int i = 0; i < 3; i++) {
            try (SocketChannel ch = EchoServer.connect(n.a(), to)) {
                assertThat(EchoServer.roundTrip(ch, payload + i)).as("B's app echoed the bytes intact")
                        .isEqualTo(payload + i);
            }
        }
        MeshExtension.await("B's proxy reported the three connections", () -> inbound(n.two()).size() == 3);
        LinkCapture.Recording wire = link.stop();

        assertThat(wire.contains(marker)).as("the application's bytes never cross the link in the clear").isFalse();
        assertThat(wire.streams()).as("the tunnel's connection crossed the link, both ways").hasSizeGreaterThanOrEqualTo(2);
        for (LinkCapture.Recording.Flow flow : wire.streams().keySet()) {
            assertThat(flow.to().getPort() == 15008 || flow.from().getPort() == 15008)
                    .as("%s: only the tunnel port crosses the link", flow).isTrue();
            assertThat(wire.notTls(flow)).as("%s is TLS records only", flow).isNull();
        }
        long toB = wire.streams().entrySet().stream().filter(e -> e.getKey().to().getPort() == 15008)
                .mapToLong(e -> e.getValue().length).sum();
        assertThat(toB).as("all three payloads went A→B inside the tunnel").isGreaterThan(3L * payload.length());

        for (ClosedConnection c : inbound(n.two())) {
            assertThat(c.outcome()).isEqualTo(Outcome.OK);
            assertThat(c.opening().mutualTls()).as("B's proxy: mutual TLS").isTrue();
            assertThat(c.source().getAddress()).as("B's proxy: the source is A").isEqualTo(n.a().ipv4());
            assertThat(c.opening().podName()).isEqualTo("b");
        }
        JsonNode recent = JSON.readTree(n.two().admin("/connections")).path("recent");
        assertThat(recent).as("B's proxy lists the three").hasSize(3);
        for (JsonNode c : recent) {
            assertThat(c.path("sourcePrincipal").asText()).as("B's proxy: A's SPIFFE id, from A's certificate")
                    .isEqualTo(A.toString());
            assertThat(c.path("security").asText()).isEqualTo("mutual_tls");
        }
    }

    @Test
    void fiveHundredConcurrentConnectionsRideAFewTlsConnectionsAndTheirBytesArriveIntact() throws Exception {
        // The default connect timeout (5 s), doubled: the five TLS handshakes meet 500 accepts and 200 MiB of bulk
        // data on the proxies' two loops (seen taking 1.5 s with the machine's load average at 12).
        Nodes n = twoNodes("1h", f -> f.connectTimeout("10s"));
        int connections = 500;
        int eachWay = 100 * 1024 * 1024 / connections; // 100 MiB each way in all
        List<String> verdicts = echoTogether(n.a(), new InetSocketAddress(n.b().ipv4(), APP_PORT), connections,
                eachWay);
        assertThat(verdicts).as("every connection got its bytes back intact").containsOnly("ok").hasSize(connections);
        JsonNode clientSide = tunnel(n.one()).path("client");
        JsonNode serverSide = tunnel(n.two()).path("server");
        assertThat(clientSide.path("streams").asLong()).isEqualTo(connections);
        assertThat(clientSide.path("connections").asLong())
                .as("500 streams open at once ride a handful of TLS connections (100 streams each)").isBetween(5L, 8L);
        assertThat(serverSide.path("connections").asLong()).isEqualTo(clientSide.path("connections").asLong());
        assertThat(serverSide.path("streams").path("200").asLong()).isEqualTo(connections);
    }

    @Test
    void aDrainingDestinationLetsItsTunnelStreamsFinishAndTakesNoNewOnes() throws Exception {
        Nodes n = twoNodes("1h", f -> f.drainTimeout("20s"));
        InetSocketAddress app = new InetSocketAddress(n.b().ipv4(), APP_PORT);
        SocketChannel inFlight = mesh.own(EchoServer.connect(n.a(), app));
        assertThat(EchoServer.roundTrip(inFlight, "before the drain")).isEqualTo("before the drain");

        long started = System.nanoTime();
        CompletableFuture<Void> stopped = CompletableFuture.runAsync(n.two()::close, Thread::startVirtualThread);
        MeshExtension.await("B's proxy draining", () -> n.two().proxy.pod("demo/b").map(p -> !p.listening()).orElse(true));
        assertThat(EchoServer.roundTrip(inFlight, "during the drain")).as("the stream in flight carries on")
                .isEqualTo("during the drain");
        assertThat(stopped).as("the drain waits for it").isNotDone();
        try (SocketChannel late = EchoServer.connect(n.a(), app)) {
            assertThat(EchoServer.roundTrip(late, "late")).as("a new connection is not taken by the draining proxy")
                    .isEmpty();
        } catch (IOException refused) {
            // reset at once: as good
        }
        inFlight.close();
        stopped.get(15, TimeUnit.SECONDS);
        assertThat(Duration.ofNanos(System.nanoTime() - started)).as("done when the stream was, not at the deadline")
                .isLessThan(Duration.ofSeconds(15));
        assertThat(inbound(n.two())).as("B's side of the stream ended as it should, not cut by the drain")
                .anyMatch(c -> c.outcome() == Outcome.OK && c.bytesFromSource() > 0);
        assertThat(inbound(n.two())).noneMatch(c -> c.outcome() == Outcome.DRAINED);
    }

    @Test
    void aDrainingSourceLetsItsTunnelStreamsFinish() throws Exception {
        Nodes n = twoNodes("1h", f -> f.drainTimeout("20s"));
        InetSocketAddress app = new InetSocketAddress(n.b().ipv4(), APP_PORT);
        SocketChannel inFlight = mesh.own(EchoServer.connect(n.a(), app));
        assertThat(EchoServer.roundTrip(inFlight, "before the drain")).isEqualTo("before the drain");

        CompletableFuture<Void> stopped = CompletableFuture.runAsync(n.one()::close, Thread::startVirtualThread);
        MeshExtension.await("A's proxy draining", () -> n.one().proxy.pod("demo/a").map(p -> !p.listening()).orElse(true));
        assertThat(EchoServer.roundTrip(inFlight, "during the drain")).as("the stream in flight carries on")
                .isEqualTo("during the drain");
        assertThat(stopped).as("the drain waits for it").isNotDone();
        inFlight.close();
        stopped.get(15, TimeUnit.SECONDS);
        assertThat(n.one().closed).as("A's side ended as it should, not cut by the drain")
                .anyMatch(c -> c.direction() == Direction.OUTBOUND && c.outcome() == Outcome.OK)
                .noneMatch(c -> c.outcome() == Outcome.DRAINED);
    }

    /** What one churned connection does with its channel: null when all went well, else what was wrong. */
    private interface OneConnection {
        String check(SocketChannel ch) throws Exception;
    }

    /**
     * {@code threads} workers, each opening {@code each} connections from {@code pod} to {@code app} one after the
     * other and running {@code one} on them; every failure as "worker/connection: what", each worker waited for up to
     * {@code seconds}.
     */
    private static List<String> churn(Netns pod, InetSocketAddress app, int threads, int each, int seconds,
            OneConnection one) throws Exception {
        List<CompletableFuture<List<String>>> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int worker = t;
            workers.add(CompletableFuture.supplyAsync(() -> {
                List<String> failures = new ArrayList<>();
                for (int i = 0; i < each; i++) {
                    try (SocketChannel ch = EchoServer.connect(pod, app)) {
                        String wrong = one.check(ch);
                        if (wrong != null) {
                            failures.add(worker + "/" + i + ": " + wrong);
                        }
                    } catch (Exception e) {
                        failures.add(worker + "/" + i + ": " + e);
                    }
                }
                return failures;
            }, Thread::startVirtualThread));
        }
        List<String> failures = new ArrayList<>();
        for (CompletableFuture<List<String>> w : workers) {
            failures.addAll(w.get(seconds, TimeUnit.SECONDS));
        }
        return failures;
    }

    @Test
    void connectionChurnRidesOnePooledConnectionAndLosesNoConnection() throws Exception {
        Nodes n = twoNodes("1h");
        InetSocketAddress app = new InetSocketAddress(n.b().ipv4(), APP_PORT);
        String request = "r".repeat(1024);
        int threads = 4;
        int each = 500;
        List<String> failures = churn(n.a(), app, threads, each, 120, ch ->
                EchoServer.roundTrip(ch, request).equals(request) ? null : "the reply was cut short");
        assertThat(failures).as("%d connections, one request each", threads * each).isEmpty();
        JsonNode client = tunnel(n.one()).path("client");
        assertThat(client.path("streams").asLong()).isEqualTo((long) threads * each);
        assertThat(client.path("connections").asLong()).as("every stream on the one pooled connection").isEqualTo(1);
    }

    /**
     * The matrix's churn (wrk, {@code Connection: close}) through the tunnel, in small: the app closes first, many
     * connections at once. Before the relay stopped failing a connect that had not finished when Netty's epoll read
     * its socket (ENOTCONN), 1 or 2 of these 1 920 connections were reset in 3 runs of 5.
     */
    @Test
    void connectionsTheServerClosesFirstArriveWholeUnderConcurrentChurn() throws Exception {
        Nodes n = twoNodes("1h");
        // As an HTTP server answering "Connection: close": read the request, answer, close; the client reads to EOF.
        byte[] reply = "a".repeat(1024).getBytes(StandardCharsets.US_ASCII);
        ServerSocketChannel server = mesh.own(n.b().call(() ->
                ServerSocketChannel.open().bind(new InetSocketAddress(7100), 2048)));
        Thread.ofVirtual().start(() -> {
            while (server.isOpen()) {
                try {
                    SocketChannel ch = server.accept();
                    Thread.ofVirtual().start(() -> {
                        try (ch) {
                            ByteBuffer in = ByteBuffer.allocate(1024);
                            while (in.hasRemaining() && ch.read(in) >= 0) {
                                // the whole request
                            }
                            ByteBuffer out = ByteBuffer.wrap(reply);
                            while (out.hasRemaining()) {
                                ch.write(out);
                            }
                        } catch (IOException e) {
                            // counted by the client
                        }
                    });
                } catch (IOException e) {
                    return;
                }
            }
        });
        InetSocketAddress app = new InetSocketAddress(n.b().ipv4(), 7100);
        int threads = 32;
        int each = 60;
        List<String> failures = churn(n.a(), app, threads, each, 180, ch -> {
            ch.write(ByteBuffer.wrap("r".repeat(1024).getBytes()));
            ch.socket().setSoTimeout(10_000);
            byte[] got = ch.socket().getInputStream().readAllBytes();
            return Arrays.equals(got, reply) ? null : got.length + " bytes back";
        });
        assertThat(failures).as("%d connections, %d at a time, the server closing first", threads * each, threads)
                .isEmpty();
    }

    @Test
    void clientsWithoutAGoodCertificateOfTheirOwnAreRefusedAndCountedWhileOthersCarryOn() throws Exception {
        Nodes n = twoNodes("1h");
        Netns outsider = mesh.podOnSecondNode("outsider");
        InetSocketAddress app = new InetSocketAddress(n.b().ipv4(), APP_PORT);
        SocketChannel longLived = mesh.own(EchoServer.connect(n.a(), app));
        assertThat(EchoServer.roundTrip(longLived, "before")).isEqualTo("before");

        Forger forger = new Forger(n.caDir());
        Instant now = Instant.now();
        IssuedCertificate otherCa = MeshCa.create(SpiffeId.DEFAULT_TRUST_DOMAIN, Duration.ofDays(1))
                .issue(A, Duration.ofHours(1));
        IssuedCertificate expired = forger.leaf(A, now.minus(Duration.ofDays(2)), now.minus(Duration.ofDays(1)));
        IssuedCertificate otherDomain = forger.leaf(new SpiffeId("other.example", "demo", "a"), now.minusSeconds(60),
                now.plus(Duration.ofHours(1)));
        // The server's judgement is under test: these clients take any server (a mesh client would refuse B first).
        assertThat(refusedHandshake(outsider, n.b(), otherCa)).as("a certificate of another CA").isTrue();
        assertThat(refusedHandshake(outsider, n.b(), expired)).as("an expired certificate").isTrue();
        assertThat(refusedHandshake(outsider, n.b(), otherDomain)).as("another trust domain").isTrue();

        // A good certificate of the mesh, used from pod A's address (past A's capture, as the proxy's sockets are).
        SpiffeId mallory = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "demo", "mallory");
        MeshTls notTheSource = MeshTls.of(MeshCa.load(n.caDir(), SpiffeId.DEFAULT_TRUST_DOMAIN)
                .issue(mallory, Duration.ofHours(1)));
        try (Intruder intruder = new Intruder(n.a())) {
            Throwable impostor = intruder.open(mallory, notTheSource, n.b());
            assertThat(impostor).as("a good certificate that is not the source pod's").isInstanceOf(TunnelRefused.class);
            assertThat(((TunnelRefused) impostor).status()).isEqualTo(403);
        }
        assertThat(refusedAtOnce(outsider, n.b(), "GET / HTTP/1.1\r\nHost: b\r\n\r\n".getBytes(StandardCharsets.US_ASCII)))
                .as("plaintext on 15008").isTrue();
        byte[] garbage = new byte[4096];
        new Random(7).nextBytes(garbage);
        assertThat(refusedAtOnce(outsider, n.b(), garbage)).as("garbage on 15008").isTrue();

        JsonNode server = tunnel(n.two()).path("server");
        assertThat(server.path("handshakeFailures").asLong()).as("five handshakes refused").isEqualTo(5);
        JsonNode reasons = server.path("handshakeFailuresByReason");
        assertThat(reasons.path("untrusted_ca").asLong()).as("another CA").isEqualTo(1);
        assertThat(reasons.path("expired").asLong()).as("expired").isEqualTo(1);
        assertThat(reasons.path("trust_domain").asLong()).as("another trust domain").isEqualTo(1);
        assertThat(reasons.path("not_tls").asLong()).as("plaintext and garbage").isEqualTo(2);
        assertThat(server.path("streams").path("403").asLong()).as("the impostor's stream refused").isEqualTo(1);
        MeshExtension.await("the impostor's stream reported as denied", () -> inbound(n.two()).stream()
                .anyMatch(c -> c.outcome() == Outcome.DENIED && c.source().getAddress().equals(n.a().ipv4())));

        assertThat(EchoServer.roundTrip(longLived, "after")).as("the tunnel in use carried on").isEqualTo("after");
        try (SocketChannel fresh = EchoServer.connect(n.a(), app)) {
            assertThat(EchoServer.roundTrip(fresh, "new")).as("and new connections work").isEqualTo("new");
        }
    }

    @Test
    void certificatesRenewUnderConnectionsThatStayUpAndNewConnectionsPresentTheNewOnes() throws Exception {
        Nodes n = twoNodes("2m");
        IdentityManager identities = n.one().proxy.identities().orElseThrow();
        MeshTls first = identities.current(A);
        InetSocketAddress app = new InetSocketAddress(n.b().ipv4(), APP_PORT);
        SocketChannel inFlight = mesh.own(EchoServer.connect(n.a(), app));
        assertThat(EchoServer.roundTrip(inFlight, "opened before renewal")).isEqualTo("opened before renewal");
        assertThat(tunnel(n.one()).path("client").path("connections").asLong()).isEqualTo(1);

        // Renewal at half-life: about a minute in.
        long deadline = System.nanoTime() + Duration.ofSeconds(100).toNanos();
        while (identities.current(A) == first && System.nanoTime() < deadline) {
            keepBusy(inFlight); // in use, as a stream would be: the proxy's idle timeout (1 min here) does not apply
        }
        MeshTls renewed = identities.current(A);
        assertThat(renewed).as("A's certificate renewed within 100 s").isNotSameAs(first);
        assertThat(renewed.certificate().serial()).isNotEqualTo(first.certificate().serial());

        try (SocketChannel after = EchoServer.connect(n.a(), app)) {
            assertThat(EchoServer.roundTrip(after, "opened after renewal")).isEqualTo("opened after renewal");
        }
        assertThat(tunnel(n.one()).path("client").path("connections").asLong())
                .as("the new connection rode a new TLS connection, which presents the renewed certificate")
                .isEqualTo(2);
        assertThat(EchoServer.roundTrip(inFlight, "still up")).as("the connection in flight was not cut")
                .isEqualTo("still up");

        // Past the first certificate's end: a connection made with it is still not cut.
        Instant end = first.certificate().notAfter();
        while (Instant.now().isBefore(end.plusSeconds(2))) {
            keepBusy(inFlight);
        }
        assertThat(EchoServer.roundTrip(inFlight, "past the old certificate's end")).isEqualTo(
                "past the old certificate's end");
        inFlight.close();
        MeshExtension.await("the outdated TLS connection closed after its last stream",
                () -> tunnel(n.one()).path("pooledConnections").asLong() == 1);
    }

    /**
     * Opens {@code count} connections from {@code from} to the echo server at {@code to}; each makes one round trip
     * and waits until all have (so all are open end to end at once), then sends {@code bytes} seeded bytes while
     * reading them back. One verdict per connection: "ok" or what went wrong.
     */
    private static List<String> echoTogether(Netns from, InetSocketAddress to, int count, int bytes) throws Exception {
        List<SocketChannel> sockets = from.call(() -> {
            List<SocketChannel> open = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                open.add(SocketChannel.open());
            }
            return open;
        });
        CountDownLatch established = new CountDownLatch(count);
        List<CompletableFuture<String>> verdicts = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            SocketChannel ch = sockets.get(i);
            int id = i;
            CompletableFuture<String> verdict = new CompletableFuture<>();
            verdicts.add(verdict);
            Thread.ofVirtual().start(() -> verdict.complete(echoOnce(ch, id, to, bytes, established)));
        }
        List<String> out = new ArrayList<>();
        for (CompletableFuture<String> v : verdicts) {
            out.add(v.get(150, TimeUnit.SECONDS));
        }
        return out;
    }

    private static String echoOnce(SocketChannel ch, int id, InetSocketAddress to, int bytes,
            CountDownLatch established) {
        try (ch) {
            ch.connect(to);
            if (!EchoServer.roundTrip(ch, "hello " + id).equals("hello " + id)) {
                return id + ": the first round trip failed";
            }
            established.countDown();
            if (!established.await(120, TimeUnit.SECONDS)) {
                return id + ": not all connections were up within 120 s";
            }
            byte[] sent = new byte[bytes];
            new Random(id).nextBytes(sent);
            CompletableFuture<Void> written = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    ByteBuffer b = ByteBuffer.wrap(sent);
                    while (b.hasRemaining()) {
                        ch.write(b);
                    }
                    written.complete(null);
                } catch (IOException e) {
                    written.completeExceptionally(e);
                }
            });
            ByteBuffer back = ByteBuffer.allocate(bytes);
            while (back.hasRemaining() && ch.read(back) >= 0) {
                // until all came back or the connection ended
            }
            written.get();
            return back.hasRemaining() ? id + ": " + back.position() + " of " + bytes + " bytes came back"
                    : Arrays.equals(sent, back.array()) ? "ok" : id + ": the bytes came back changed";
        } catch (Exception e) {
            return id + ": " + e;
        }
    }

    /** Waits half a second, then makes a round trip on {@code ch} if the last was 5 s ago or more. */
    private static void keepBusy(SocketChannel ch) throws Exception {
        Thread.sleep(500);
        long now = System.nanoTime();
        if (now - lastBusy >= 5_000_000_000L) {
            lastBusy = now;
            assertThat(EchoServer.roundTrip(ch, "busy")).as("the connection in flight carries on").isEqualTo("busy");
        }
    }

    private static long lastBusy;

    /** The connections B's side reported finished. */
    private static List<ClosedConnection> inbound(TestNode node) {
        return node.closed.stream().filter(c -> c.direction() == Direction.INBOUND).toList();
    }

    /** {@code totals.tunnel} of a node's {@code /stats}. */
    private static JsonNode tunnel(TestNode node) {
        try {
            return JSON.readTree(node.admin("/stats")).path("totals").path("tunnel");
        } catch (Exception e) {
            throw new AssertionError("cannot read /stats", e);
        }
    }

    /**
     * A TLS 1.3 handshake with B's :15008 from {@code from}, presenting {@code certificate} and taking any server;
     * whether the server then closed the connection within 5 s (in TLS 1.3 the client is done before the server has
     * judged its certificate).
     */
    private static boolean refusedHandshake(Netns from, Netns b, IssuedCertificate certificate) throws Exception {
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        char[] password = "unused".toCharArray();
        store.setKeyEntry("client", certificate.key(), password, certificate.chain().toArray(new X509Certificate[0]));
        KeyManagerFactory keys = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keys.init(store, password);
        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(keys.getKeyManagers(), InsecureTrustManagerFactory.INSTANCE.getTrustManagers(), null);
        Socket plain = from.call(() -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(b.ipv4(), 15008), 5000);
            return s;
        });
        try (SSLSocket tls = (SSLSocket) context.getSocketFactory().createSocket(plain,
                b.ipv4().getHostAddress(), 15008, true)) {
            tls.setSoTimeout(5000);
            try {
                tls.startHandshake();
                while (tls.getInputStream().read() >= 0) {
                    // until the server closes
                }
                return true;
            } catch (SocketTimeoutException stillOpen) {
                return false;
            } catch (IOException refused) {
                return true; // an alert or a reset
            }
        }
    }

    /** Sends {@code bytes} to B's :15008 from {@code from}; whether the tunnel server closed on them within 5 s. */
    private static boolean refusedAtOnce(Netns from, Netns b, byte[] bytes) throws Exception {
        try (SocketChannel ch = from.call(SocketChannel::open)) {
            ch.connect(new InetSocketAddress(b.ipv4(), 15008));
            ch.write(ByteBuffer.wrap(bytes));
            CompletableFuture<Boolean> closed = CompletableFuture.supplyAsync(() -> {
                ByteBuffer in = ByteBuffer.allocate(8192);
                try {
                    while (ch.read(in.clear()) >= 0) {
                        // whatever it says before closing (a TLS alert)
                    }
                    return true;
                } catch (IOException reset) {
                    return true;
                }
            }, OwnThreads.EACH);
            return closed.get(5, TimeUnit.SECONDS);
        }
    }

    /**
     * A tunnel client as a node proxy would be, in a pod's namespace with the proxy's bypass mark, presenting whatever
     * certificate a test gives it.
     */
    private static final class Intruder implements AutoCloseable {

        private final Transport transport = Transport.select(TransportKind.EPOLL, notice -> { });
        private final EventLoopGroup group = transport.newEventLoopGroup(1, "intruder");
        private final NetworkNamespace ns;
        private final Netns pod;

        Intruder(Netns pod) throws IOException {
            this.pod = pod;
            this.ns = NetworkNamespace.open(pod.path());
        }

        /** Opens one stream to {@code to}'s app presenting {@code tls} as {@code as}; why it failed (null: it did not). */
        Throwable open(SpiffeId as, MeshTls tls, Netns to) throws Exception {
            TunnelPool pool = new TunnelPool(TunnelSettings.defaults().withConnectTimeout(Duration.ofSeconds(3)),
                    new TlsSecurity(as, WorkloadCertificates.held(Map.of(as, tls))),
                    () -> new Bootstrap().channelFactory(transport.socketChannels(ns, ProxySettings.DEFAULT_MARK,
                            () -> true, TcpKeepalive::defaults))
                            .option(ChannelOption.TCP_NODELAY, true), new TunnelStats());
            try {
                Future<Http2StreamChannel> stream = pool.openStream(new TunnelKey(as, B, new InetSocketAddress(
                        to.ipv4(), APP_PORT)), new InetSocketAddress(pod.ipv4(), 0), group.next(),
                        new ChannelInboundHandlerAdapter());
                stream.await(10, TimeUnit.SECONDS);
                assertThat(stream.isDone()).as("the tunnel answered within 10 s").isTrue();
                if (stream.isSuccess()) {
                    stream.getNow().close();
                }
                return stream.cause();
            } finally {
                pool.close();
            }
        }

        @Override
        public void close() throws Exception {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
            ns.close();
        }
    }
}
