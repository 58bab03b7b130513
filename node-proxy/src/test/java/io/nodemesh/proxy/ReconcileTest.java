package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.StandaloneConfig;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Config changes capture and release pods without touching the others. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ReconcileTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void trafficBetweenTwoCapturedPodsIsCapturedOnceEachWayNotLooped() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().capture(a, b));
        SeededServer server = mesh.own(SeededServer.start(b, 8080, 100_000, 100_000, false));
        assertThat(SeededClients.run(a, b.ipv4(), 8080, 1, 100_000, 100_000)).containsExactly("ok");

        // a's outbound socket carries the mark: b's inbound capture takes it once, a's never again.
        await("both legs closed", () -> node.closed.size() == 2);
        assertThat(server.accepted()).isEqualTo(1);
        assertThat(pod(node, "demo/a").stats(Direction.OUTBOUND).snapshot().opened()).isEqualTo(1);
        assertThat(pod(node, "demo/a").stats(Direction.INBOUND).snapshot().opened()).isZero();
        assertThat(pod(node, "demo/b").stats(Direction.INBOUND).snapshot().opened()).isEqualTo(1);
        assertThat(pod(node, "demo/b").stats(Direction.OUTBOUND).snapshot().opened()).isZero();
        // Inbound's original destination is b's own address and port.
        assertThat(node.closed).anySatisfy(c -> {
            assertThat(c.direction()).isEqualTo(Direction.INBOUND);
            assertThat(c.podName()).isEqualTo("b");
            assertThat(c.destination()).isEqualTo(new InetSocketAddress(b.ipv4(), 8080));
            assertThat(c.bytesFromSource()).isEqualTo(100_004);
        });
    }

    @Test
    void theNftBackendCapturesToo() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().rules("nft").capture(a));
        mesh.own(SeededServer.start(b, 8080, 50_000, 50_000, false));
        var plan = RedirectRules.plan(node.proxy.snapshot().pods().get("demo/a"), node.proxy.snapshot().proxy());
        assertThat(RuleEngine.nft().check(plan, a.path()).inSync()).isTrue();
        assertThat(RuleEngine.iptables().check(plan, a.path()).present()).isFalse();
        assertThat(SeededClients.run(a, b.ipv4(), 8080, 3, 50_000, 50_000)).containsOnly("ok");
        await("3 captured", () -> node.closed.size() == 3);
    }

    @Test
    void removingAPodReleasesItAndLeavesTheOthersConnectionsAlone() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Netns c = mesh.pod("c"); // not in the mesh
        TestNode node = mesh.start(mesh.config().capture(a, b));
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel fromC = mesh.own(EchoServer.connect(c, new InetSocketAddress(b.ipv4(), 7000)));
        assertThat(EchoServer.roundTrip(fromC, "before")).isEqualTo("before");
        PodCapture capturedB = pod(node, "demo/b");
        assertThat(capturedB.stats(Direction.INBOUND).snapshot().active()).isEqualTo(1);
        PodSpec specA = node.proxy.snapshot().pods().get("demo/a");
        var plan = RedirectRules.plan(specA, node.proxy.snapshot().proxy());
        assertThat(RuleEngine.iptables().check(plan, a.path()).inSync()).isTrue();

        node.rewrite(mesh.config().capture(b));

        await("pod a released", () -> node.proxy.pod("demo/a").isEmpty());
        assertThat(RuleEngine.iptables().check(plan, a.path()).present()).as("a's rules").isFalse();
        // a's traffic now goes straight out (not counted on a), still captured inbound by b.
        long outboundBefore = node.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().opened();
        try (SocketChannel fromA = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000))) {
            assertThat(EchoServer.roundTrip(fromA, "direct")).isEqualTo("direct");
        }
        assertThat(node.proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().opened()).isEqualTo(outboundBefore);
        await("b counted a's connection inbound",
                () -> capturedB.stats(Direction.INBOUND).snapshot().opened() == 2);
        // b was not touched: same capture, its open connection from c still works.
        assertThat(node.proxy.pod("demo/b")).containsSame(capturedB);
        assertThat(EchoServer.roundTrip(fromC, "after")).isEqualTo("after");
        assertThat(capturedB.stats(Direction.INBOUND).snapshot().closedByOutcome()).doesNotContainKey(Outcome.DRAINED);
    }

    @Test
    void rulesLeftInSyncByAnEarlierProxyAreKeptAndStaleOnesReplaced() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        String yaml = mesh.config().capture(a).yaml();
        TestNode first = mesh.start(mesh.config().capture(a));
        assertThat(first.proxy.pod("demo/a").orElseThrow().listening()).isTrue();
        first.close(); // leaves the rules: traffic fails closed while the proxy is away
        PodSpec specA = StandaloneConfig.parse("x", yaml).pods().get("demo/a");
        var settings = StandaloneConfig.parse("x", yaml).proxy();
        assertThat(RuleEngine.iptables().check(RedirectRules.plan(specA, settings), a.path()).inSync()).isTrue();

        // A stale rule set (other exempt port) is replaced by the next proxy, and capture works.
        String stale = yaml.replace("    netns:", "    exemptPorts: [2222]\n    netns:");
        var stalePlan = RedirectRules.plan(StandaloneConfig.parse("x", stale).pods().get("demo/a"), settings);
        RuleEngine.iptables().remove(a.path());
        RuleEngine.iptables().apply(stalePlan, a.path());
        TestNode second = mesh.start(mesh.config().capture(a));
        mesh.own(SeededServer.start(b, 8080, 1000, 1000, false));
        assertThat(RuleEngine.iptables().check(RedirectRules.plan(specA, settings), a.path()).inSync()).isTrue();
        assertThat(SeededClients.run(a, b.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
        await("captured", () -> second.closed.size() == 2);
    }

    private static PodCapture pod(TestNode node, String key) {
        return node.proxy.pod(key).orElseThrow(() -> new AssertionError("pod " + key + " is not captured: "
                + node.proxy.pods()));
    }
}
