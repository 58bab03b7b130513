package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.handoff.ControlSocket;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.testing.OwnThreads;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Replacing the node's proxy (docs/upgrade.md): a new proxy takes the pods' listening sockets, the CNI control socket
 * and plain relays over through the old one's handover socket, and the old one stops, with no new connection refused,
 * no relay cut and no call of the CNI plugin refused.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class UpgradeTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    /** As on a node: one handover socket, one admin socket and one CNI control socket, whichever proxy serves them. */
    private static UnaryOperator<NodeProxy.Builder> handover() {
        Path run = mesh.dir().resolve("run");
        return b -> b.handoverSocket(run.resolve("handover.sock")).adminSocket(run.resolve("admin.sock"))
                .cniSocket(run.resolve("cni.sock")).enrolmentFile(run.resolve("enrolment.json"));
    }

    /** GET {@code path} over the node's admin socket: the status line and the body. */
    private static String adminOverSocket(String path) throws Exception {
        try (SocketChannel ch = SocketChannel.open(java.net.UnixDomainSocketAddress.of(
                mesh.dir().resolve("run/admin.sock")))) {
            ch.write(java.nio.charset.StandardCharsets.US_ASCII.encode("GET " + path
                    + " HTTP/1.1\r\nHost: nodemesh\r\nConnection: close\r\n\r\n"));
            return new String(java.nio.channels.Channels.newInputStream(ch).readAllBytes(),
                    java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    @Test
    void theNewProxyTakesTheListenersOverWithoutRefusingAConnection() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, handover());
        mesh.own(EchoServer.start(b, 7000));
        ExecutorService inA = a.executor();
        InetSocketAddress echo = new InetSocketAddress(b.ipv4(), 7000);
        ConnectionChurn churn = ConnectionChurn.start(inA, echo, 300);
        Thread.sleep(500);

        TestNode next = mesh.startNode("next", config, handover());
        old.close();
        Thread.sleep(500);
        churn.close();

        assertThat(churn.failed()).as("failed new connections (first: %s)", churn.firstFailure()).isZero();
        assertThat(churn.ok()).isGreaterThan(200);
        // The node's sockets are the new proxy's: the old one let them go and, stopping, left them alone.
        assertThat(adminOverSocket("/workloads")).startsWith("HTTP/1.1 200").contains("\"pod\" : \"a\"");
        assertThat(next.proxy.controlSocket()).isPresent();
        assertThat(mesh.dir().resolve("run/cni.sock")).exists();
        assertThat(mesh.dir().resolve("run/handover.sock")).as("the new proxy waits for the next").exists();
        PodCapture pod = next.proxy.pod("demo/a").orElseThrow();
        assertThat(pod.rulesInherited()).isTrue();
        assertThat(pod.listening()).isTrue();
        // The old proxy is gone; connections still reach the echo server, through the new one.
        try (StreamingClient after = StreamingClient.connect(inA, echo, 1, 64)) {
            after.exchange();
        }
        await("the new proxy counts its connections", () -> next.proxy.nodeStats()
                .direction(Direction.OUTBOUND).snapshot().opened() > 0);
    }

    /** Pod {@code name} of namespace demo, its namespace handed by the CNI plugin, not captured (answered at once). */
    private static String notCaptured(String name) {
        return """
                  - name: %s
                    namespace: demo
                    serviceAccount: %s
                    netns: cni
                    capture: false
                """.formatted(name, name);
    }

    private static Path cniSocket() {
        return mesh.dir().resolve("run/cni.sock");
    }

    private static Object inode(Path file) throws Exception {
        return Files.getAttribute(file, "unix:ino", java.nio.file.LinkOption.NOFOLLOW_LINKS);
    }

    /**
     * The CNI control socket moves with the pods: the same socket (the file's inode never changes, and it is never
     * missing) answers every plugin call made while the new proxy takes over, first in the old proxy, then in the new.
     */
    @Test
    void theControlSocketMovesAndEveryPluginCallDuringTheTakeoverIsAnswered() throws Exception {
        Netns a = mesh.pod("a");
        Netns c = mesh.pod("c");
        MeshFile config = mesh.config().capture(a).entry(notCaptured("c"));
        TestNode old = mesh.start(config, handover());
        Object inode = inode(cniSocket());
        PluginLoad plugin = mesh.own(PluginLoad.start(cniSocket(), "c", c, Duration.ZERO));
        await("the old proxy answers the plugin", () -> plugin.ok() > 20);

        ControlSocket oldSocket = old.proxy.controlSocket().orElseThrow();
        TestNode next = mesh.startNode("next", config, handover());
        assertThat(old.proxy.controlSocket()).as("the old proxy let the control socket go").isEmpty();
        old.close();
        long atSwitch = plugin.ok();
        await("the new proxy answers the plugin", () -> plugin.ok() > atSwitch + 20);
        plugin.close();

        assertThat(plugin.failed()).as("failed plugin calls (first: %s)", plugin.firstFailure()).isZero();
        assertThat(plugin.missing()).as("times the socket file was missing").isZero();
        assertThat(plugin.inodes()).as("the socket file's inodes").containsExactly(inode);
        assertThat(inode(cniSocket())).isEqualTo(inode);
        assertThat(oldSocket.requests()).as("calls answered by the old proxy").isGreaterThan(20);
        assertThat(next.proxy.controlSocket().orElseThrow().requests()).as("by the new one").isGreaterThan(20);
        assertThat(next.proxy.pod("demo/a").orElseThrow().rulesInherited()).isTrue();
        System.out.printf("control socket handover: %d plugin calls answered, %d failed; inode %s throughout%n",
                plugin.ok(), plugin.failed(), inode);
    }

    /**
     * A pod whose namespace only the CNI plugin gave (standalone {@code netns: cni}) stays captured through a takeover:
     * the old proxy hands its record over with its listeners, so the new proxy captures it at once (listeners taken,
     * rules left alone) instead of waiting for an ADD that will not come, and a later DEL releases it there.
     */
    @Test
    void aPodTheCniPluginHandedOverStaysCapturedThroughATakeover() throws Exception {
        Netns h = mesh.pod("h");
        Netns b = mesh.pod("b");
        MeshFile config = mesh.config().entry("""
                  - name: h
                    namespace: demo
                    serviceAccount: h
                    netns: cni
                """);
        TestNode old = mesh.start(config, handover());
        mesh.own(EchoServer.start(b, 7000));
        com.fasterxml.jackson.databind.JsonNode added = PluginCalls.withNamespace(cniSocket(),
                PluginCalls.request("ADD", "demo", "h", "sandbox-h", h), h);
        assertThat(added.path("ok").asBoolean()).as(added.toString()).isTrue();
        assertThat(old.proxy.pod("demo/h").orElseThrow().listening()).isTrue();

        TestNode next = mesh.startNode("next", config, handover());
        old.close();
        PodCapture pod = next.proxy.pod("demo/h").orElseThrow();
        assertThat(pod.listening()).as("captured by the new proxy at once").isTrue();
        assertThat(pod.rulesInherited()).isTrue();
        try (StreamingClient client = StreamingClient.connect(h.executor(), new InetSocketAddress(b.ipv4(), 7000), 1,
                64)) {
            client.exchange();
        }
        await("the new proxy relays the pod's connection", () -> next.proxy.nodeStats()
                .direction(Direction.OUTBOUND).snapshot().opened() > 0);

        com.fasterxml.jackson.databind.JsonNode deleted = PluginCalls.call(cniSocket(),
                PluginCalls.request("DEL", "demo", "h", "sandbox-h", null));
        assertThat(deleted.path("ok").asBoolean()).as(deleted.toString()).isTrue();
        await("released by the new proxy", () -> next.proxy.pod("demo/h").isEmpty()
                || !next.proxy.pod("demo/h").orElseThrow().listening());
        await("its rules gone", () -> !h.exec("iptables-save", "-t", "nat").stdout().contains("NODEMESH"));
    }

    /** A request the old proxy accepted and has not answered when it hands the socket over is told to try again. */
    @Test
    void aPluginCallStillWaitingOnTheOldProxyIsToldToTryAgain() throws Exception {
        Netns a = mesh.pod("a");
        Netns ghost = mesh.pod("ghost");
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, handover());
        // An ADD of a pod the proxy's view does not have: it waits (up to 20 s) for the pod to show up.
        java.util.concurrent.CompletableFuture<com.fasterxml.jackson.databind.JsonNode> waiting =
                java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                    try {
                        return PluginCalls.withNamespace(cniSocket(),
                                PluginCalls.request("ADD", "demo", "ghost", "sandbox-1", ghost), ghost);
                    } catch (Exception e) {
                        throw new java.util.concurrent.CompletionException(e);
                    }
                }, OwnThreads.EACH);
        await("the old proxy accepted the ADD", () -> old.proxy.controlSocket().orElseThrow().requests() == 1);
        Thread.sleep(200);
        assertThat(waiting).isNotDone();

        long start = System.nanoTime();
        TestNode next = mesh.startNode("next", config, handover());
        com.fasterxml.jackson.databind.JsonNode answer = waiting.get(10, TimeUnit.SECONDS);
        long answeredMillis = (System.nanoTime() - start) / 1_000_000;
        assertThat(answer.path("ok").asBoolean()).as(answer.toString()).isFalse();
        assertThat(answer.path("code").asInt()).as(answer.toString()).isEqualTo(11);
        assertThat(answer.path("error").asText()).contains("being replaced");
        assertThat(answeredMillis).as("answered within the takeover, not after the ADD's own 20 s").isLessThan(10_000);
        // The runtime's retry reaches the new proxy on the same socket.
        old.close();
        assertThat(PluginCalls.call(cniSocket(), PluginCalls.request("DEL", "demo", "ghost", "sandbox-1", null))
                .path("ok").asBoolean()).isTrue();
        assertThat(next.proxy.controlSocket().orElseThrow().requests()).isEqualTo(1);
    }

    /**
     * A takeover that fails after the control socket was handed over (here the new proxy cannot bind its readiness
     * port) leaves the old proxy serving it: the same socket, no plugin call failed meanwhile, and the pods still
     * captured by the old proxy.
     */
    @Test
    void aFailedTakeoverLeavesTheOldProxyServingTheControlSocket() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Netns c = mesh.pod("c");
        MeshFile config = mesh.config().capture(a).entry(notCaptured("c"));
        TestNode old = mesh.start(config, handover());
        mesh.own(EchoServer.start(b, 7000));
        Object inode = inode(cniSocket());
        PluginLoad plugin = mesh.own(PluginLoad.start(cniSocket(), "c", c, Duration.ZERO));
        await("the old proxy answers the plugin", () -> plugin.ok() > 20);

        InetSocketAddress taken = old.proxy.readinessAddress();
        assertThatThrownBy(() -> mesh.startNode("next", config, b2 -> handover().apply(b2).readiness(taken)))
                .isInstanceOf(java.io.IOException.class);
        long afterFailure = plugin.ok();
        long servedBefore = old.proxy.controlSocket().orElseThrow().requests();
        await("the old proxy answers the plugin again", () -> plugin.ok() > afterFailure + 20);
        plugin.close();

        assertThat(plugin.failed()).as("failed plugin calls (first: %s)", plugin.firstFailure()).isZero();
        assertThat(plugin.missing()).as("times the socket file was missing").isZero();
        assertThat(plugin.inodes()).containsExactly(inode);
        assertThat(old.proxy.controlSocket().orElseThrow().requests()).isGreaterThan(servedBefore);
        assertThat(old.proxy.pod("demo/a").orElseThrow().listening()).isTrue();
        try (StreamingClient client = StreamingClient.connect(a.executor(), new InetSocketAddress(b.ipv4(), 7000), 7,
                64)) {
            client.exchange(); // still captured by the old proxy
        }
        await("the old proxy relayed it", () -> old.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot()
                .opened() > 0);
    }

    @Test
    void aMovedRelayKeepsHalfCloseAndBackPressureAndIsReportedOnceByTheNewProxy() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, handover());
        mesh.own(EchoServer.start(b, 7000));
        InetSocketAddress echo = new InetSocketAddress(b.ipv4(), 7000);
        StreamingClient client = mesh.own(StreamingClient.connect(a, echo, 42));
        for (int i = 0; i < 10; i++) {
            client.exchange();
        }
        // A bulk exchange first: both directions go through pipes (the relay splices them), which must be empty
        // when it moves and close behind it.
        java.util.Set<String> pipesBefore = OpenPipes.now();
        long bulk = bulkEcho(client.channel(), 8L << 20);
        java.util.Set<String> spliced = OpenPipes.since(pipesBefore);
        assertThat(spliced).as("the relay splices both ways: a pipe each").hasSizeGreaterThanOrEqualTo(2);

        TestNode next = mesh.startNode("next", config, handover());
        old.close();

        assertThat(old.closed).as("the old proxy reports no moved connection").isEmpty();
        for (int i = 0; i < 10; i++) {
            client.exchange(); // the same connection, intact, through the new proxy
        }
        // Back-pressure: with nobody reading the echo, writing stops well short of what unbounded buffering takes.
        SocketChannel ch = client.channel();
        ch.configureBlocking(false);
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        long written = 0;
        long stalledSince = System.nanoTime();
        while (written < 256L << 20 && System.nanoTime() - stalledSince < 500_000_000L) {
            chunk.clear();
            int n = ch.write(chunk);
            if (n > 0) {
                written += n;
                stalledSince = System.nanoTime();
            } else {
                Thread.sleep(5);
            }
        }
        assertThat(written).as("bytes written before the relay pushed back").isLessThan(128L << 20);
        // Half-close: the client's FIN reaches the server through the moved relay; the echo of everything comes back,
        // then the server's FIN.
        ch.configureBlocking(true);
        ch.shutdownOutput();
        ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        long echoed = 0;
        int n;
        while ((n = ch.read(in)) >= 0) {
            echoed += n;
            in.clear();
        }
        assertThat(echoed).isEqualTo(written);

        await("the new proxy's record", () -> next.closed.size() == 1);
        ClosedConnection record = next.closed.peek();
        assertThat(record.outcome()).isEqualTo(Outcome.OK);
        assertThat(record.bytesFromSource()).isEqualTo(client.exchanged() + bulk + written);
        assertThat(record.bytesToSource()).isEqualTo(client.exchanged() + bulk + written);
        assertThat(old.closed).isEmpty();
        await("no pipe left behind by either proxy", () -> OpenPipes.allClosed(spliced));
    }

    /** Writes {@code size} random bytes to the echo behind {@code ch} while reading them back; checks them. */
    private static long bulkEcho(SocketChannel ch, long size) throws Exception {
        java.util.zip.CRC32 sent = new java.util.zip.CRC32();
        java.util.concurrent.CompletableFuture<Long> echoed = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            ByteBuffer in = ByteBuffer.allocate(64 * 1024);
            long n = 0;
            try {
                while (n < size) {
                    in.clear().limit((int) Math.min(in.capacity(), size - n));
                    int r = ch.read(in);
                    if (r < 0) {
                        throw new java.io.EOFException("the echo ended after " + n + " bytes");
                    }
                    crc.update(in.flip());
                    n += r;
                }
            } catch (java.io.IOException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
            return crc.getValue();
        }, OwnThreads.EACH);
        java.util.Random random = new java.util.Random(5);
        byte[] chunk = new byte[256 * 1024];
        for (long n = 0; n < size; n += chunk.length) {
            random.nextBytes(chunk);
            sent.update(chunk);
            ByteBuffer out = ByteBuffer.wrap(chunk);
            while (out.hasRemaining()) {
                ch.write(out);
            }
        }
        assertThat(echoed.get(30, TimeUnit.SECONDS)).as("the bulk echo's CRC").isEqualTo(sent.getValue());
        return size;
    }

    /**
     * The drill of issue 22: 1000 new connections a second and 200 long-lived connections streaming, a new proxy
     * started, the old one stopped; no new connection fails, every long-lived one carries bytes afterwards, intact.
     */
    @Test
    void upgradeDrillUnderLoad() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, handover());
        mesh.own(EchoServer.start(b, 7000, 4096)); // 1000 a second: the default queue of 50 overflows on 2 cores
        ExecutorService inA = a.executor();
        InetSocketAddress echo = new InetSocketAddress(b.ipv4(), 7000);
        LongLivedStreams streams = mesh.own(LongLivedStreams.start(inA, echo, 200, 512, Duration.ofMillis(20)));
        ConnectionChurn churn = ConnectionChurn.start(inA, echo, 1000);
        Thread.sleep(1500);

        long failedBefore = churn.failed();
        long switchStarted = System.nanoTime();
        TestNode next = mesh.startNode("next", config, handover());
        long takeoverMillis = (System.nanoTime() - switchStarted) / 1_000_000;
        old.close();
        long switchMillis = (System.nanoTime() - switchStarted) / 1_000_000;
        long[] atSwitch = streams.exchanged();
        Thread.sleep(2000);
        churn.close();
        long resumed = next.proxy.pods().stream().mapToLong(p -> p.connections().size()).sum();
        streams.close();

        int advanced = streams.advancedSince(atSwitch);
        System.out.printf("upgrade drill: takeover %d ms, old proxy stopped after %d ms; new connections: %d ok, "
                        + "%d failed; long-lived: %d of %d carried bytes after the switch, %d cut; old proxy reported "
                        + "%d, new proxy holds %d%n", takeoverMillis, switchMillis, churn.ok(), churn.failed(),
                advanced, streams.size(), streams.cut(), old.closed.stream()
                        .filter(c -> c.bytesFromSource() > 100).count(), resumed);
        System.out.printf("upgrade drill: failed before the switch %d; outcomes old %s, new %s%n", failedBefore,
                old.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().closedByOutcome(),
                next.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().closedByOutcome());
        assertThat(churn.failed()).as("failed new connections (first: %s)", churn.firstFailure()).isZero();
        assertThat(churn.ok()).as("new connections made").isGreaterThan(2000);
        assertThat(streams.cut()).as("long-lived connections cut (first: %s)", streams.firstCut()).isZero();
        assertThat(advanced).as("long-lived connections that carried bytes after the switch").isEqualTo(200);
    }
}
