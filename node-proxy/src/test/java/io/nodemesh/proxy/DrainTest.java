package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.topology.Lan;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Connections end the way the operator asked: drained on removal and shutdown, closed when idle. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DrainTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @TempDir
    Path dir;

    @Test
    void removingAPodLetsItsConnectionsRunUntilTheDrainDeadline() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String header = TestMesh.proxySection("iptables", "1m", "1500ms");
        try (TestMesh mesh = TestMesh.start(dir, header + "pods:\n" + TestMesh.pod("a", a), null);
             EchoServer echo = EchoServer.start(b, 7000);
             SocketChannel ch = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000))) {
            assertThat(EchoServer.roundTrip(ch, "one")).isEqualTo("one");
            var plan = io.nodemesh.proxy.redirect.RedirectRules.plan(mesh.proxy.snapshot().pods().get("demo/a"),
                    mesh.proxy.snapshot().proxy());

            mesh.rewrite(header + "pods: []\n");

            // Listener closed and rules gone, but the open connection still works while draining ...
            assertThat(EchoServer.roundTrip(ch, "two")).isEqualTo("two");
            // ... until the deadline, when the proxy closes it.
            assertThat(ch.read(ByteBuffer.allocate(1))).isEqualTo(-1);
            TestMesh.await("drained record", () -> mesh.closed.size() == 1);
            assertThat(mesh.closed.peek().outcome()).isEqualTo(Outcome.DRAINED);
            TestMesh.await("pod a gone", () -> mesh.proxy.pods().isEmpty());
            // Its rules went last: removing them first would have reset the connection (see CaptureReconciler).
            assertThat(io.nodemesh.rules.RuleEngine.iptables().check(plan, a.path()).present()).isFalse();
        }
    }

    @Test
    void shutdownDrainsFinishedConnectionsCleanlyAndCutsTheRestAtTheDeadline() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String yaml = TestMesh.proxySection("iptables", "1m", "1s") + "pods:\n" + TestMesh.pod("a", a);
        TestMesh mesh = TestMesh.start(dir, yaml, null);
        try (EchoServer echo = EchoServer.start(b, 7000);
             SocketChannel quick = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000));
             SocketChannel lingering = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000))) {
            assertThat(EchoServer.roundTrip(quick, "q")).isEqualTo("q");
            assertThat(EchoServer.roundTrip(lingering, "l")).isEqualTo("l");
            Thread closer = Thread.ofVirtual().start(mesh::close);
            TestMesh.await("listeners closed", () -> mesh.proxy.pods().stream().noneMatch(p -> p.listening()));
            quick.close(); // finishes within the drain window
            closer.join();

            assertThat(lingering.read(ByteBuffer.allocate(1))).isEqualTo(-1);
            assertThat(mesh.closed).extracting(ClosedConnection::outcome)
                    .containsExactlyInAnyOrder(Outcome.OK, Outcome.DRAINED);
        } finally {
            mesh.close();
        }
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String yaml = TestMesh.proxySection("iptables", "700ms", "1s") + "pods:\n" + TestMesh.pod("a", a);
        try (TestMesh mesh = TestMesh.start(dir, yaml, null);
             EchoServer echo = EchoServer.start(b, 7000);
             SocketChannel ch = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000))) {
            assertThat(EchoServer.roundTrip(ch, "hi")).isEqualTo("hi");
            assertThat(ch.read(ByteBuffer.allocate(1))).isEqualTo(-1);
            TestMesh.await("idle record", () -> mesh.closed.size() == 1);
            assertThat(mesh.closed.peek().outcome()).isEqualTo(Outcome.IDLE_TIMEOUT);
        }
    }
}
