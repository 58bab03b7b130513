package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.topology.Lan;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Config changes capture and release pods without touching the others. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReconcileTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @TempDir
    Path dir;

    @Test
    void trafficBetweenTwoCapturedPodsIsCapturedOnceEachWayNotLooped() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String yaml = TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a) + TestMesh.pod("b", b);
        try (TestMesh mesh = TestMesh.start(dir, yaml, null);
             SeededServer server = SeededServer.start(b, 8080, 100_000, 100_000, false)) {
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 1, 100_000, 100_000)).containsExactly("ok");

            // a's outbound socket carries the mark: b's inbound capture takes it once, a's never again.
            TestMesh.await("both legs closed", () -> mesh.closed.size() == 2);
            assertThat(server.accepted()).isEqualTo(1);
            assertThat(pod(mesh, "demo/a").stats(Direction.OUTBOUND).snapshot().opened()).isEqualTo(1);
            assertThat(pod(mesh, "demo/a").stats(Direction.INBOUND).snapshot().opened()).isZero();
            assertThat(pod(mesh, "demo/b").stats(Direction.INBOUND).snapshot().opened()).isEqualTo(1);
            assertThat(pod(mesh, "demo/b").stats(Direction.OUTBOUND).snapshot().opened()).isZero();
            // Inbound's original destination is b's own address and port.
            assertThat(mesh.closed).anySatisfy(c -> {
                assertThat(c.direction()).isEqualTo(Direction.INBOUND);
                assertThat(c.podName()).isEqualTo("b");
                assertThat(c.destination()).isEqualTo(new InetSocketAddress(b.ipv4(), 8080));
                assertThat(c.bytesFromSource()).isEqualTo(100_004);
            });
        }
    }

    @Test
    void theNftBackendCapturesToo() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String yaml = TestMesh.proxySection("nft") + "pods:\n" + TestMesh.pod("a", a);
        try (TestMesh mesh = TestMesh.start(dir, yaml, null);
             SeededServer server = SeededServer.start(b, 8080, 50_000, 50_000, false)) {
            var plan = RedirectRules.plan(mesh.proxy.snapshot().pods().get("demo/a"), mesh.proxy.snapshot().proxy());
            assertThat(RuleEngine.nft().check(plan, a.path()).inSync()).isTrue();
            assertThat(RuleEngine.iptables().check(plan, a.path()).present()).isFalse();
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 3, 50_000, 50_000)).containsOnly("ok");
            TestMesh.await("3 captured", () -> mesh.closed.size() == 3);
        }
    }

    @Test
    void removingAPodReleasesItAndLeavesTheOthersConnectionsAlone() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        Netns c = lan.attach("pc", "10.77.0.4/24"); // not in the mesh
        String both = TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a) + TestMesh.pod("b", b);
        String onlyB = TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("b", b);
        try (TestMesh mesh = TestMesh.start(dir, both, null);
             EchoServer echo = EchoServer.start(b, 7000);
             SocketChannel fromC = EchoServer.connect(c, new InetSocketAddress(b.ipv4(), 7000))) {
            assertThat(EchoServer.roundTrip(fromC, "before")).isEqualTo("before");
            PodCapture capturedB = pod(mesh, "demo/b");
            assertThat(capturedB.stats(Direction.INBOUND).snapshot().active()).isEqualTo(1);
            PodSpec specA = mesh.proxy.snapshot().pods().get("demo/a");
            var plan = RedirectRules.plan(specA, mesh.proxy.snapshot().proxy());
            assertThat(RuleEngine.iptables().check(plan, a.path()).inSync()).isTrue();

            mesh.rewrite(onlyB);

            TestMesh.await("pod a released", () -> mesh.proxy.pod("demo/a").isEmpty());
            assertThat(RuleEngine.iptables().check(plan, a.path()).present()).as("a's rules").isFalse();
            // a's traffic now goes straight out (not counted on a), still captured inbound by b.
            long outboundBefore = mesh.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().opened();
            try (SocketChannel fromA = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000))) {
                assertThat(EchoServer.roundTrip(fromA, "direct")).isEqualTo("direct");
            }
            assertThat(mesh.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().opened()).isEqualTo(outboundBefore);
            TestMesh.await("b counted a's connection inbound",
                    () -> capturedB.stats(Direction.INBOUND).snapshot().opened() == 2);
            // b was not touched: same capture, its open connection from c still works.
            assertThat(mesh.proxy.pod("demo/b")).containsSame(capturedB);
            assertThat(EchoServer.roundTrip(fromC, "after")).isEqualTo("after");
            assertThat(capturedB.stats(Direction.INBOUND).snapshot().closedByOutcome()).doesNotContainKey(
                    io.nodemesh.proxy.model.Outcome.DRAINED);
        }
    }

    @Test
    void rulesLeftInSyncByAnEarlierProxyAreKeptAndStaleOnesReplaced() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String yaml = TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a);
        try (TestMesh first = TestMesh.start(dir, yaml, null)) {
            assertThat(first.proxy.pod("demo/a").orElseThrow().listening()).isTrue();
        } // close() leaves the rules: traffic fails closed while the proxy is away
        PodSpec specA = io.nodemesh.proxy.discovery.StandaloneConfig.parse("x", yaml).pods().get("demo/a");
        var settings = io.nodemesh.proxy.discovery.StandaloneConfig.parse("x", yaml).proxy();
        assertThat(RuleEngine.iptables().check(RedirectRules.plan(specA, settings), a.path()).inSync()).isTrue();

        // A stale rule set (other exempt port) is replaced by the next proxy, and capture works.
        String stale = yaml.replace("    netns:", "    exemptPorts: [2222]\n    netns:");
        var stalePlan = RedirectRules.plan(io.nodemesh.proxy.discovery.StandaloneConfig.parse("x", stale).pods()
                .get("demo/a"), settings);
        RuleEngine.iptables().remove(a.path());
        RuleEngine.iptables().apply(stalePlan, a.path());
        try (TestMesh second = TestMesh.start(dir, yaml, null);
             SeededServer server = SeededServer.start(b, 8080, 1000, 1000, false)) {
            assertThat(RuleEngine.iptables().check(RedirectRules.plan(specA, settings), a.path()).inSync()).isTrue();
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
            TestMesh.await("captured", () -> second.closed.size() == 2);
        }
    }

    private static PodCapture pod(TestMesh mesh, String key) {
        return mesh.proxy.pod(key).orElseThrow(() -> new AssertionError("pod " + key + " is not captured: "
                + mesh.proxy.pods()));
    }
}
