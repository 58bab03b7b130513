package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.ConnectCapture;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Cgroup;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code capture: ebpf}: a pod's outbound TCP is sent to the proxy at {@code connect()} by the eBPF programs the proxy
 * attached to the pod's cgroup, which record the original destination in a map the proxy reads; its inbound TCP is
 * handed to the proxy's inbound listener by an {@code sk_lookup} program on the pod's namespace, pinned in a bpf
 * filesystem of the test's own. Nothing of it is in netfilter. The pod's "apps" are processes in its cgroup and namespace (bash's {@code /dev/tcp}), as a
 * pod's containers are; the test's own threads in the namespace are not in the cgroup, and so not captured outbound.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class EbpfCaptureTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @BeforeEach
    void needsCgroups() {
        NetnsExtension.requireCgroupV2();
    }

    @Test
    void thePodsOutboundConnectionsReachTheirDestinationsThroughTheProxyAndNothingIsTracked() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        Cgroup pod = mesh.cgroup("pod-a");
        TestNode node = captureByEbpf(a, pod);
        mesh.own(EchoServer.start(b, 8080));

        String v4 = b.ipv4().getHostAddress();
        assertThat(echo(pod, a, v4, 8080)).isEqualTo("hello");
        assertThat(echo(pod, a, b.ipv6().getHostAddress(), 8080)).isEqualTo("hello");
        assertThat(echo(pod, a, "::ffff:" + v4, 8080)).as("from an IPv6 socket to an IPv4-mapped address")
                .isEqualTo("hello");

        await("3 closed", () -> node.closed.size() == 3);
        assertThat(node.closed).allSatisfy(c -> {
            assertThat(c.direction()).isEqualTo(Direction.OUTBOUND);
            assertThat(c.outcome()).isEqualTo(Outcome.OK);
            assertThat(c.bytesFromSource()).isEqualTo(6);
            assertThat(c.bytesToSource()).isEqualTo(6);
        });
        List<ClosedConnection> ipv4 = node.closed.stream()
                .filter(c -> c.destination().equals(new InetSocketAddress(b.ipv4(), 8080))).toList();
        assertThat(ipv4).as("IPv4 destinations, the mapped one too").hasSize(2)
                .allSatisfy(c -> assertThat(c.source().getAddress()).as("the pod's address, not loopback")
                        .isEqualTo(a.ipv4()));
        assertThat(node.closed).filteredOn(c -> c.destination().equals(new InetSocketAddress(b.ipv6(), 8080)))
                .hasSize(1).allSatisfy(c -> assertThat(c.source().getAddress()).isEqualTo(a.ipv6()));
        assertThat(TproxyCaptureTest.conntrackCount(a)).as("connections tracked in pod a").isZero();
        assertThat(a.execOk("nft", "list", "ruleset").stdout()).as("nothing in netfilter").doesNotContain("table");
        assertThat(node.admin("/config_dump")).contains("\"capture\" : \"ebpf\"",
                "\"cgroup\" : \"" + pod.path() + "\"");

        // A process of the namespace outside the pod's cgroup (as the proxy's own sockets are) goes straight out.
        assertThat(mesh.own(EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 8080)))).satisfies(
                ch -> assertThat(EchoServer.roundTrip(ch, "direct")).isEqualTo("direct"));
        Thread.sleep(200);
        assertThat(node.closed).hasSize(3);
    }

    @Test
    void inboundConnectionsComeBySocketLookupAndAConnectionToTheCapturePortIsNotRelayed() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        Cgroup pod = mesh.cgroup("pod-a");
        TestNode node = captureByEbpf(a, pod);
        mesh.own(EchoServer.start(a, 8080));

        SocketChannel in = mesh.own(EchoServer.connect(b, new InetSocketAddress(a.ipv4(), 8080)));
        assertThat(EchoServer.roundTrip(in, "inbound")).isEqualTo("inbound");
        in.close();
        await("1 closed", () -> node.closed.size() == 1);
        ClosedConnection c = node.closed.peek();
        assertThat(c.direction()).isEqualTo(Direction.INBOUND);
        assertThat(c.destination()).isEqualTo(new InetSocketAddress(a.ipv4(), 8080));
        assertThat(c.source().getAddress()).isEqualTo(b.ipv4());
        SocketChannel in6 = mesh.own(EchoServer.connect(b, new InetSocketAddress(a.ipv6(), 8080)));
        assertThat(EchoServer.roundTrip(in6, "inbound6")).isEqualTo("inbound6");
        in6.close();
        await("2 closed", () -> node.closed.size() == 2);
        assertThat(node.closed).filteredOn(x -> x.destination().equals(new InetSocketAddress(a.ipv6(), 8080)))
                .singleElement().satisfies(x -> assertThat(x.direction()).isEqualTo(Direction.INBOUND));
        node.closed.clear();

        // Loopback is never captured: this reaches the outbound listener addressed to it, with nothing in the map.
        assertThat(TproxyCaptureTest.readFrom(a, new InetSocketAddress("127.0.0.1", 15001))).isEqualTo(-1);
        PodCapture capture = node.proxy.pod("demo/a").orElseThrow();
        await("counted", () -> capture.notRedirectedCount() == 1);
        assertThat(capture.stats(Direction.OUTBOUND).snapshot().opened()).isZero();
    }

    @Test
    void aReleasedPodsProgramsAreDetachedAndAPodWithoutACgroupFailsSayingWhy() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        Cgroup pod = mesh.cgroup("pod-a");
        TestNode node = captureByEbpf(a, pod);
        mesh.own(EchoServer.start(b, 8080));
        assertThat(echo(pod, a, b.ipv4().getHostAddress(), 8080)).isEqualTo("hello");

        node.rewrite(mesh.config().rules("nft").captureMode("ebpf").capture(b).drainTimeout("1s"));
        await("a released", () -> node.proxy.pod("demo/a").isEmpty());
        assertThat(attachedTo(pod.path())).isEmpty();
        assertThat(echo(pod, a, b.ipv4().getHostAddress(), 8080)).as("straight to b now").isEqualTo("hello");
        PodCapture noCgroup = node.proxy.pod("demo/b").orElseThrow();
        await("b failed", () -> noCgroup.lastError() != null);
        assertThat(noCgroup.lastError()).contains("the cgroup of pod demo/b is not known");
    }

    @Test
    void aNewProxyTakesOverThePodsProgramsAndListenersWithoutLosingAConnection() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        Cgroup pod = mesh.cgroup("pod-a");
        UnaryOperator<NodeProxy.Builder> handover = handover();
        MeshFile config = mesh.config().rules("nft").captureMode("ebpf").capture(a, pod);
        TestNode old = mesh.start(config, handover);
        await("programs attached", () -> attachedTo(pod.path()).size() == 5);
        mesh.own(EchoServer.start(b, 7000));
        // The pod's app: connections one after the other for 4 s (at most 3000), each a round trip, counted.
        String loop = "ok=0; bad=0; n=0; end=$((SECONDS + 4)); while [ $SECONDS -lt $end ] && [ $n -lt 3000 ]; do "
                + "n=$((n + 1)); r=$( (exec 3<>/dev/tcp/" + b.ipv4().getHostAddress() + "/7000 && printf 'x\\n' >&3 "
                + "&& head -c 2 <&3) 2>/dev/null); if [ \"$r\" = x ]; then ok=$((ok + 1)); else bad=$((bad + 1)); "
                + "fi; done; echo \"$ok $bad\"";
        Process app = new ProcessBuilder(Cgroup.command(pod.path(), a, "bash", "-c", loop)).start();
        await("the old proxy relays the app's connections", () -> old.proxy.nodeStats()
                .direction(Direction.OUTBOUND).snapshot().opened() > 10);

        TestNode next = mesh.startNode("next", config, handover);
        old.close();
        assertThat(app.waitFor(20, TimeUnit.SECONDS)).isTrue();
        String[] counts = new String(app.getInputStream().readAllBytes()).strip().split(" ");
        System.out.println("connections through the takeover: " + counts[0] + " ok, " + counts[1] + " failed");
        assertThat(Integer.parseInt(counts[1])).as("failed connections of %s", String.join(" ", counts)).isZero();
        assertThat(Integer.parseInt(counts[0])).isGreaterThan(50);
        PodCapture taken = next.proxy.pod("demo/a").orElseThrow();
        assertThat(taken.rulesInherited()).isTrue();
        assertThat(taken.notRedirectedCount()).as("connections the new proxy found no destination for").isZero();
        assertThat(attachedTo(pod.path())).hasSize(5);
        assertThat(echo(pod, a, b.ipv4().getHostAddress(), 7000)).isEqualTo("hello");
        await("the new proxy relays", () -> next.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot()
                .opened() > 0);
        mesh.own(EchoServer.start(a, 8080));
        SocketChannel in = mesh.own(EchoServer.connect(b, new InetSocketAddress(a.ipv4(), 8080)));
        assertThat(EchoServer.roundTrip(in, "inbound")).isEqualTo("inbound");
        await("the new proxy relays inbound", () -> next.proxy.nodeStats().direction(Direction.INBOUND).snapshot()
                .opened() > 0);
    }

    @Test
    void aProxyCapturingByRedirectThatTakesOverFromAnEbpfOneReplacesItsPrograms() throws Exception {
        Pods p = pods();
        Netns a = p.a();
        Netns b = p.b();
        Cgroup pod = p.pod();
        UnaryOperator<NodeProxy.Builder> handover = handover();
        TestNode old = mesh.start(mesh.config().rules("nft").captureMode("ebpf").capture(a, pod), handover);
        await("programs attached", () -> attachedTo(pod.path()).size() == 5);

        // Neither capture's listeners are transparent: what tells them apart is the pod's sk_lookup program.
        TestNode next = mesh.startNode("next", mesh.config().rules("nft").captureMode("redirect").capture(a, pod),
                handover);
        old.close();
        PodCapture taken = next.proxy.pod("demo/a").orElseThrow();
        assertThat(taken.rulesInherited()).as("the ebpf capture's listeners are not a redirect capture's").isFalse();
        await("the programs detached", () -> attachedTo(pod.path()).isEmpty());
        assertThat(pins()).as("the inbound program's pin").isEmpty();
        assertThat(a.execOk("nft", "list", "ruleset").stdout()).contains("redirect to :15001");
        relaysBothWays(p, next);
    }

    @Test
    void whileNoProxyListensThePodsConnectionsAreRefusedAndARestartedProxyTakesThemBack() throws Exception {
        Pods p = pods();
        Netns a = p.a();
        Netns b = p.b();
        Cgroup pod = p.pod();
        MeshFile config = mesh.config().rules("nft").captureMode("ebpf").capture(a, pod);
        TestNode first = mesh.start(config, EbpfCaptureTest::onEpoll);
        await("programs attached", () -> attachedTo(pod.path()).size() == 5);
        first.close(); // as a crash leaves them: the programs stay, attached and pinned; no listener

        InetSocketAddress app = new InetSocketAddress(a.ipv4(), 9000);
        assertThatThrownBy(() -> EchoServer.connect(b, app)).as("inbound fails closed, not around the proxy")
                .hasMessageContaining("Connection refused");
        ExecResult out = pod.exec(a, "timeout", "5", "bash", "-c",
                "exec 3<>/dev/tcp/" + b.ipv4().getHostAddress() + "/8080");
        assertThat(out.exitCode()).as("outbound fails closed too: " + out.describe()).isNotZero();
        assertThat(pins()).hasSize(1);

        TestNode second = mesh.startNode("second", config, EbpfCaptureTest::onEpoll);
        await("listening", () -> second.proxy.pod("demo/a").map(PodCapture::listening).orElse(false));
        relaysBothWays(p, second);
        assertThat(pins()).as("the same pin, not another").hasSize(1);
    }

    /**
     * With the listener keeper (docs/upgrade.md) the same stop does not refuse: the connections made while no proxy
     * runs, either way, wait in the held listeners' accept queues (outbound sent there by the cgroup's programs, inbound
     * by the pinned {@code sk_lookup} program, whose map still holds the listener), and the next proxy serves them.
     */
    @Test
    void withTheListenerKeeperConnectionsMadeWhileNoProxyRunsWaitAndTheNextProxyServesThem() throws Exception {
        Pods p = pods();
        Netns a = p.a();
        Netns b = p.b();
        Cgroup pod = p.pod();
        KeeperProcess keeper = mesh.own(KeeperProcess.start(mesh.dir().resolve("run/keeper.sock")));
        UnaryOperator<NodeProxy.Builder> kept = x -> onEpoll(x).keeperSocket(keeper.socket);
        MeshFile config = mesh.config().rules("nft").captureMode("ebpf").capture(a, pod);
        TestNode first = mesh.start(config, kept);
        await("programs attached", () -> attachedTo(pod.path()).size() == 5);
        first.close();

        // Outbound: the pod's app connects to b:8080 and waits for its answer; inbound: b connects to the app.
        CompletableFuture<ExecResult> outbound = CompletableFuture.supplyAsync(() -> pod.exec(a, "timeout", "20",
                "bash", "-c", "exec 3<>/dev/tcp/" + b.ipv4().getHostAddress() + "/8080 && printf 'waited\\n' >&3 "
                        + "&& head -c 6 <&3"));
        SocketChannel inbound = mesh.own(EchoServer.connect(b, new InetSocketAddress(a.ipv4(), 9000)));
        Thread.sleep(500);
        assertThat(outbound).as("the app's connection waits: nobody accepts it yet").isNotDone();

        TestNode second = mesh.startNode("second", config, kept);
        assertThat(second.proxy.pod("demo/a").orElseThrow().rulesInherited()).isTrue();
        ExecResult out = outbound.get(20, TimeUnit.SECONDS);
        assertThat(out.exitCode()).as(out.describe()).isZero();
        assertThat(out.stdout()).isEqualTo("waited");
        assertThat(EchoServer.roundTrip(inbound, "inbound, waited")).isEqualTo("inbound, waited");
        assertThat(second.proxy.pod("demo/a").orElseThrow().notRedirectedCount())
                .as("queued connections whose destination the new proxy could not find").isZero();
        relaysBothWays(p, second);
    }

    @Test
    void aPodSwitchedBetweenTproxyAndEbpfKeepsNothingOfTheOtherCapture() throws Exception {
        Pods p = pods();
        Netns a = p.a();
        Netns b = p.b();
        Cgroup pod = p.pod();
        TestNode node = mesh.start(mesh.config().rules("nft").captureMode("tproxy").capture(a, pod),
                EbpfCaptureTest::onEpoll);
        assertThat(a.execOk("nft", "list", "ruleset").stdout()).contains("tproxy to :15006");

        node.rewrite(mesh.config().rules("nft").captureMode("ebpf").capture(a, pod));
        await("programs attached", () -> attachedTo(pod.path()).size() == 5);
        await("the tproxy table gone", () -> !a.execOk("nft", "list", "ruleset").stdout().contains("table"));
        assertThat(a.exec("ip", "rule").stdout()).as("the tproxy capture's policy route").doesNotContain("lookup 133");
        await("listening", () -> node.proxy.pod("demo/a").map(PodCapture::listening).orElse(false));
        relaysBothWays(p, node);
        assertThat(pins()).as("the inbound program's pin").hasSize(1);

        node.rewrite(mesh.config().rules("nft").captureMode("tproxy").capture(a, pod));
        await("the programs detached", () -> attachedTo(pod.path()).isEmpty());
        await("the tproxy table back", () -> a.execOk("nft", "list", "ruleset").stdout().contains("tproxy"));
        assertThat(pins()).as("the inbound program's pin").isEmpty();
        await("listening", () -> node.proxy.pod("demo/a").map(PodCapture::listening).orElse(false));
        SocketChannel again = mesh.own(EchoServer.connect(b, new InetSocketAddress(a.ipv4(), 9000)));
        assertThat(EchoServer.roundTrip(again, "tproxy")).isEqualTo("tproxy");
    }

    @Test
    void onceItsRulesAreInAnEbpfCapturesUpstreamSocketsCarryNoMark() throws Exception {
        Pods p = pods();
        Cgroup pod = p.pod();
        TestNode node = mesh.start(mesh.config().rules("nft").captureMode("tproxy").capture(p.a(), pod),
                EbpfCaptureTest::onEpoll);
        // Under tproxy the nft rules let the proxy's own sockets through by their mark.
        assertThat(upstreamSockets(p)).as("sockets of pod a to b:8080: the app's, the proxy's")
                .anyMatch(line -> line.contains("fwmark:0x539"));

        node.rewrite(mesh.config().rules("nft").captureMode("ebpf").capture(p.a(), pod));
        await("programs attached", () -> attachedTo(pod.path()).size() == 5);
        await("listening", () -> node.proxy.pod("demo/a").map(PodCapture::listening).orElse(false));
        await("the tproxy table gone", () -> !p.a().execOk("nft", "list", "ruleset").stdout().contains("table"));
        // Under ebpf nothing in the pod looks at it: one setsockopt less per connection. (The app's socket is
        // connected to the proxy on loopback, so the one to b:8080 is the proxy's.)
        assertThat(upstreamSockets(p)).singleElement().asString().doesNotContain("fwmark");
    }

    @Test
    void ebpfNeedsTheEpollTransportAndTheNftBackend() {
        assertThatThrownBy(() -> mesh.start(mesh.config().rules("none").captureMode("ebpf")))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("proxy.capture: ebpf needs rules nft");
        assertThatThrownBy(() -> mesh.start(mesh.config().rules("nft").captureMode("ebpf"),
                x -> x.transport(TransportKind.NIO)))
                .isInstanceOf(ConfigException.class)
                .hasMessage("proxy.capture: ebpf needs the epoll transport; the nio transport's listeners cannot "
                        + "take ebpf connections");
    }

    /** A proxy on epoll capturing {@code pod} (its processes in {@code cgroup}) with {@code capture: ebpf}. */
    private static TestNode captureByEbpf(Netns pod, Cgroup cgroup) throws Exception {
        TestNode node = mesh.start(mesh.config().rules("nft").captureMode("ebpf").capture(pod, cgroup),
                EbpfCaptureTest::onEpoll);
        PodCapture capture = node.proxy.pods().getFirst();
        assertThat(capture.listening()).isTrue();
        await("programs attached", () -> attachedTo(cgroup.path()).size() == 5);
        return node;
    }

    /** Pods a and b on one LAN, a's processes in cgroup {@code pod}; an echo server in b on 8080, in a on 9000. */
    private record Pods(Netns a, Netns b, Cgroup pod) {
    }

    private static Pods pods() throws Exception {
        Pods p = new Pods(mesh.dualStackPod("a"), mesh.dualStackPod("b"), mesh.cgroup("pod-a"));
        mesh.own(EchoServer.start(p.b(), 8080));
        mesh.own(EchoServer.start(p.a(), 9000));
        return p;
    }

    /**
     * A connection each way, answered, through {@code node}'s proxy: the pod's app to b:8080, b to the pod's app on
     * 9000; and the proxy counted both.
     */
    private static void relaysBothWays(Pods p, TestNode node) throws Exception {
        assertThat(echo(p.pod(), p.a(), p.b().ipv4().getHostAddress(), 8080)).isEqualTo("hello");
        SocketChannel in = mesh.own(EchoServer.connect(p.b(), new InetSocketAddress(p.a().ipv4(), 9000)));
        assertThat(EchoServer.roundTrip(in, "inbound")).isEqualTo("inbound");
        await("relayed both ways", () -> node.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().opened() > 0
                && node.proxy.nodeStats().direction(Direction.INBOUND).snapshot().opened() > 0);
    }

    /**
     * {@code ss}'s lines for pod a's established TCP sockets to b:8080 while a process of the pod holds a connection
     * there open (with {@code -e}: a socket's mark shows as {@code fwmark:}).
     */
    private static List<String> upstreamSockets(Pods p) throws Exception {
        String b = p.b().ipv4().getHostAddress();
        CompletableFuture<ExecResult> held = CompletableFuture.supplyAsync(
                () -> p.pod().exec(p.a(), "timeout", "10", "bash", "-c",
                        "exec 3<>/dev/tcp/" + b + "/8080 && printf 'held\\n' >&3 && head -c 5 <&3 && sleep 2"));
        try {
            List<String> lines = List.of();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (lines.isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
                lines = p.a().execOk("ss", "-Htnie", "state", "established", "dst", b + ":8080").stdout().lines()
                        .filter(l -> l.contains(b + ":8080")).toList();
            }
            assertThat(lines).as("a connection from pod a to b:8080").isNotEmpty();
            return lines;
        } finally {
            ExecResult r = held.get(15, TimeUnit.SECONDS);
            assertThat(r.exitCode()).as(r.describe()).isZero();
        }
    }

    /** A proxy on epoll pinning in the test's bpf filesystem. */
    private static NodeProxy.Builder onEpoll(NodeProxy.Builder b) {
        return b.transport(TransportKind.EPOLL).bpffs(NetnsExtension.bpffs());
    }

    /** {@link #onEpoll}, with the handover and admin sockets in the mesh's run dir: a proxy that takes over another. */
    private static UnaryOperator<NodeProxy.Builder> handover() {
        Path run = mesh.dir().resolve("run");
        return x -> onEpoll(x).handoverSocket(run.resolve("handover.sock")).adminSocket(run.resolve("admin.sock"));
    }

    /** The pins in the test's bpf filesystem. */
    private static List<Path> pins() throws IOException {
        try (var files = Files.list(NetnsExtension.bpffs().resolve("nodemesh"))) {
            return files.toList();
        }
    }

    /** nodemesh's programs on {@code cgroup}, as any process sees them. */
    static List<String> attachedTo(Path cgroup) {
        try (ConnectCapture programs = ConnectCapture.open()) {
            return programs.attached(cgroup);
        }
    }

    /** What a process of the pod ({@code cgroup}, {@code ns}) reads back after sending "hello" to host:port. */
    private static String echo(Cgroup cgroup, Netns ns, String host, int port) {
        ExecResult r = cgroup.exec(ns, "timeout", "5", "bash", "-c",
                "exec 3<>/dev/tcp/" + host + "/" + port + " && printf 'hello\\n' >&3 && head -c 6 <&3");
        assertThat(r.exitCode()).as(r.describe()).isZero();
        return r.stdout().strip();
    }
}
