package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Connections end the way the operator asked: drained on removal and shutdown, closed when idle. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class DrainTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    /** A connection from {@code a} to the echo server on {@code b}:7000, closed after the test. */
    private static SocketChannel echoConnection(Netns a, Netns b) throws Exception {
        return mesh.own(EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000)));
    }

    @Test
    void removingAPodLetsItsConnectionsRunUntilTheDrainDeadline() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().drainTimeout("1500ms").capture(a));
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel ch = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(ch, "one")).isEqualTo("one");
        var plan = RedirectRules.plan(node.proxy.snapshot().pods().get("demo/a"), node.proxy.snapshot().proxy());

        node.rewrite(mesh.config().drainTimeout("1500ms"));

        // Listener closed and rules gone, but the open connection still works while draining ...
        assertThat(EchoServer.roundTrip(ch, "two")).isEqualTo("two");
        // ... until the deadline, when the proxy closes it.
        assertThat(ch.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        await("drained record", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.DRAINED);
        await("pod a gone", () -> node.proxy.pods().isEmpty());
        // Its rules went last: removing them first would have reset the connection (see CaptureReconciler).
        assertThat(RuleEngine.iptables().check(plan, a.path()).present()).isFalse();
    }

    @Test
    void shutdownDrainsFinishedConnectionsCleanlyAndCutsTheRestAtTheDeadline() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().drainTimeout("1s").capture(a));
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel quick = echoConnection(a, b);
        SocketChannel lingering = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(quick, "q")).isEqualTo("q");
        assertThat(EchoServer.roundTrip(lingering, "l")).isEqualTo("l");
        Thread closer = Thread.ofVirtual().start(node::close);
        await("listeners closed", () -> node.proxy.pods().stream().noneMatch(p -> p.listening()));
        quick.close(); // finishes within the drain window
        closer.join();

        assertThat(lingering.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        assertThat(node.closed).extracting(ClosedConnection::outcome)
                .containsExactlyInAnyOrder(Outcome.OK, Outcome.DRAINED);
    }

    @Test
    void anIdleConnectionIsClosedAfterTheIdleTimeout() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().idleTimeout("700ms").drainTimeout("1s").capture(a));
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel ch = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(ch, "hi")).isEqualTo("hi");
        assertThat(ch.read(ByteBuffer.allocate(1))).isEqualTo(-1);
        await("idle record", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.IDLE_TIMEOUT);
    }
}
