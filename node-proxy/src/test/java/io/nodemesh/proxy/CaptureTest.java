package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.stats.DirectionStats;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.testing.OwnThreads;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A pod's outbound connections are captured in its own namespace and relayed intact; run on epoll
 * here, on io_uring by {@link IoUringCaptureTest} and on NIO by {@link NioCaptureTest}.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CaptureTest {

    /** The transport under test. */
    TransportKind transport() {
        return TransportKind.EPOLL;
    }

    /** Concurrent connections of 512 KiB each way in the bulk test (200: 100 MB each way). */
    int bulkConnections() {
        return 200;
    }

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    /** A proxy on the transport under test capturing {@code pod}'s traffic. */
    private TestNode capture(Netns pod) throws Exception {
        return mesh.start(mesh.config().capture(pod), b -> b.transport(transport()));
    }

    @Test
    void capturedConnectionsCarryHalfAMegabyteEachWayIntact() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        int connections = bulkConnections();
        long perConnection = 512 * 1024;
        TestNode node = capture(a);
        SeededServer server = mesh.own(SeededServer.start(b, 8080, perConnection, perConnection, false));
        assertThat(node.proxy.transport().kind()).isEqualTo(transport());
        List<String> verdicts = SeededClients.run(a, b.ipv4(), 8080, connections, perConnection, perConnection);

        assertThat(verdicts).as("client verdicts").containsOnly("ok").hasSize(connections);
        assertThat(server.verdicts(connections).values()).as("server verdicts").containsOnly("ok").hasSize(connections);
        PodCapture pod = node.proxy.pod("demo/a").orElseThrow();
        await(connections + " closed connections", () -> pod.stats(Direction.OUTBOUND).snapshot().closed() == connections
                && node.closed.size() == connections);
        DirectionStats.Snapshot out = pod.stats(Direction.OUTBOUND).snapshot();
        assertThat(out.opened()).isEqualTo(connections);
        assertThat(out.closedByOutcome()).containsExactly(java.util.Map.entry(Outcome.OK, (long) connections));
        assertThat(out.bytesFromSource()).isEqualTo(connections * (perConnection + 4));
        assertThat(out.bytesToSource()).isEqualTo(connections * perConnection);
        assertThat(node.closed).hasSize(connections).allSatisfy(c -> {
            assertThat(c.direction()).isEqualTo(Direction.OUTBOUND);
            assertThat(c.podName()).isEqualTo("a");
            assertThat(c.podNamespace()).isEqualTo("demo");
            assertThat(c.destination()).isEqualTo(new InetSocketAddress(b.ipv4(), 8080));
            assertThat(c.source().getAddress()).isEqualTo(a.ipv4());
        });
        String stats = node.admin("/stats");
        assertThat(stats).contains("\"pod\" : \"demo/a\"").contains("\"opened\" : " + connections);
        assertThat(node.admin("/connections")).contains("\"destination\" : \"10.77.0.3:8080\"");
    }

    @Test
    void ipv6ConnectionsAreCapturedWithTheirIpv6OriginalDestination() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        TestNode node = capture(a);
        mesh.own(SeededServer.start(b, 8080, 200_000, 300_000, false));
        List<String> verdicts = SeededClients.run(a, b.ipv6(), 8080, 5, 200_000, 300_000);
        assertThat(verdicts).containsOnly("ok");
        await("5 closed", () -> node.closed.size() == 5);
        assertThat(node.closed).allSatisfy(c -> {
            assertThat(c.destination()).isEqualTo(new InetSocketAddress(b.ipv6(), 8080));
            assertThat(c.source().getAddress()).isEqualTo(a.ipv6());
            assertThat(c.outcome()).isEqualTo(Outcome.OK);
        });
    }

    @Test
    void aConnectionToTheCapturePortItselfIsClosedAndCounted() throws Exception {
        Netns a = mesh.pod("a");
        TestNode node = capture(a);
        // Loopback is exempt from capture, so this reaches :15001 without a redirect: no original destination.
        int got = a.call(() -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.connect(new InetSocketAddress("127.0.0.1", 15001), 10_000);
                return s.getInputStream().read();
            }
        });
        assertThat(got).isEqualTo(-1);
        PodCapture pod = node.proxy.pod("demo/a").orElseThrow();
        await("counted", () -> pod.notRedirectedCount() == 1);
        assertThat(pod.stats(Direction.OUTBOUND).snapshot().opened()).isZero();
        assertThat(node.closed).isEmpty();
    }

    @Test
    void aResetFromTheServerReachesTheClientAsAReset() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        java.nio.channels.ServerSocketChannel listener = mesh.own(b.call(() ->
                java.nio.channels.ServerSocketChannel.open().bind(new InetSocketAddress(8080))));
        TestNode node = capture(a);
        Thread server = Thread.ofVirtual().start(() -> {
            try (java.nio.channels.SocketChannel ch = listener.accept()) {
                ch.read(java.nio.ByteBuffer.allocate(1));
                ch.socket().setSoLinger(true, 0); // close with RST
            } catch (IOException ignored) {
                // the test fails on the client side if this goes wrong
            }
        });
        assertThatThrownBy(() -> a.call(() -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
                s.getOutputStream().write(1);
                return s.getInputStream().read();
            }
        })).isInstanceOf(java.net.SocketException.class).hasMessageContaining("reset");
        server.join();
        await("reset recorded", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.RESET);
    }

    @Test
    void halfCloseKeepsTheReplyDirectionOpen() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = capture(a);
        SeededServer server = mesh.own(SeededServer.start(b, 8080, 1000, 3 * 1024 * 1024, true));
        // The server answers only after it has seen the client's FIN: a lost FIN hangs, a full close loses the reply.
        List<String> verdicts = SeededClients.run(a, b.ipv4(), 8080, 3, 1000, 3 * 1024 * 1024);
        assertThat(verdicts).containsOnly("ok");
        assertThat(server.verdicts(3).values()).containsOnly("ok");
        await("3 closed", () -> node.closed.size() == 3);
        assertThat(node.closed).extracting(ClosedConnection::outcome).containsOnly(Outcome.OK);
    }

    @Test
    void aServerThatEndsFirstStillGetsEverythingTheClientSendsAfterItsFin() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = capture(a);
        // The server sends its short reply and FIN at once and goes on reading 3 MiB: the proxy passes that FIN on,
        // then the client's FIN ends the connection both ways while the client's bytes may still be on their way up.
        // Those must all arrive, followed by a FIN, not a reset.
        SeededServer server = mesh.own(SeededServer.start(b, 8080, 3 * 1024 * 1024, 1000, false));
        List<String> verdicts = SeededClients.run(a, b.ipv4(), 8080, 3, 3 * 1024 * 1024, 1000);
        assertThat(verdicts).containsOnly("ok");
        assertThat(server.verdicts(3).values()).containsOnly("ok");
        await("3 closed", () -> node.closed.size() == 3);
        assertThat(node.closed).extracting(ClosedConnection::outcome).containsOnly(Outcome.OK);
        await("no connection left", () -> node.proxy.pods().getFirst().connections().isEmpty());
    }

    @Test
    void refusedDestinationResetsTheClientPromptly() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = capture(a);
        // Nothing listens on b:9. Without the proxy connect() fails; with it, the accept succeeded,
        // so the refusal must come back as a reset on the first read instead of a hang.
        assertThatThrownBy(() -> a.call(() -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.connect(new InetSocketAddress(b.ipv4(), 9), 10_000);
                InputStream in = s.getInputStream();
                return in.read();
            }
        })).isInstanceOf(IOException.class).satisfies(e -> assertThat(e)
                .isNotInstanceOf(java.net.SocketTimeoutException.class));
        await("refused recorded", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.REFUSED);
    }

    @Test
    void anUnansweredConnectResetsTheClientAtTheConnectTimeout() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().connectTimeout("500ms").capture(a), x -> x.transport(transport()));
        // b answers nothing, not even a reset: the proxy's SYNs go unanswered until its connect timeout.
        b.execOk("nft", "add table inet silent");
        b.execOk("nft", "add chain inet silent in { type filter hook input priority -300 ; policy drop ; }");
        long start = System.nanoTime();
        assertThatThrownBy(() -> a.call(() -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
                return s.getInputStream().read();
            }
        })).isInstanceOf(java.net.SocketException.class).hasMessageContaining("reset");
        long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertThat(tookMillis).isBetween(400L, 5_000L);
        await("timeout recorded", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.CONNECT_TIMEOUT);
        await("no connection left", () -> node.proxy.pods().getFirst().connections().isEmpty());
    }

    @Test
    void aServerThatStopsReadingHoldsTheClientBackAndLosesNothing() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = capture(a);
        long size = 64L * 1024 * 1024; // more than every socket buffer on the way can hold
        java.nio.channels.ServerSocketChannel listener = mesh.own(b.call(() ->
                java.nio.channels.ServerSocketChannel.open().bind(new InetSocketAddress(8080))));
        java.util.concurrent.atomic.AtomicLong readingFrom = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.CompletableFuture<long[]> received = java.util.concurrent.CompletableFuture.supplyAsync(
                () -> {
                    try (java.nio.channels.SocketChannel ch = listener.accept()) {
                        Thread.sleep(1500); // not reading: the proxy must stop reading the client, not buffer it
                        readingFrom.set(System.nanoTime());
                        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                        java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(64 * 1024);
                        long n = 0;
                        for (int r; (r = ch.read(buf.clear())) >= 0; ) {
                            crc.update(buf.flip());
                            n += r;
                        }
                        return new long[] {n, crc.getValue()};
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                }, OwnThreads.EACH);
        long[] sent = a.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                byte[] chunk = new byte[64 * 1024];
                java.util.Random random = new java.util.Random(23);
                java.io.OutputStream out = s.getOutputStream();
                for (long n = 0; n < size; n += chunk.length) {
                    random.nextBytes(chunk);
                    crc.update(chunk);
                    out.write(chunk);
                }
                long done = System.nanoTime();
                s.shutdownOutput();
                s.getInputStream().read(); // the proxy passes the server's close on
                return new long[] {crc.getValue(), done};
            }
        });
        long[] got = received.get(60, TimeUnit.SECONDS);
        assertThat(got[0]).isEqualTo(size);
        assertThat(got[1]).isEqualTo(sent[0]);
        assertThat(sent[1]).as("the client's last write completed only once the server read")
                .isGreaterThan(readingFrom.get());
        await("closed", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.OK);
        assertThat(node.closed.peek().bytesFromSource()).isEqualTo(size);
    }
}
