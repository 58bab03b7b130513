package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.uring.IoUring;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A relayed connection whose far side vanishes without a FIN or RST (its node gone, its packets dropped) ends when the
 * proxy's TCP keepalive probes go unanswered: the side still there is reset, not left waiting until the idle timeout
 * (a minute here, an hour by default), and the connection is recorded as {@code PEER_LOST}. "Vanishing" is a drop-all
 * nftables chain in the far side's namespace: its sockets stay open and it answers nothing.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KeepaliveTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    /** 1 s of silence, then 2 probes 1 s apart: a lost peer is given up about 3 s after its last segment. */
    private static final String FAST = "{time: 1s, interval: 1s, probes: 2}";

    /** Every packet that reaches {@code ns} is dropped; nothing in it sends, as its sockets are quiet. */
    private static void vanish(Netns ns) {
        ns.execOk("nft", "add table inet vanish");
        ns.execOk("nft", "add chain inet vanish in { type filter hook input priority -300 ; policy drop ; }");
    }

    /**
     * The node's one connection, of {@code direction}, was recorded {@code PEER_LOST} by {@code lost}'s silence, and
     * the pod holds no connection any more.
     */
    private static void assertLost(TestNode node, Direction direction, Side lost) throws InterruptedException {
        await("the lost peer's record", () -> node.closed.size() == 1);
        ClosedConnection record = node.closed.peek();
        assertThat(record.outcome()).isEqualTo(Outcome.PEER_LOST);
        assertThat(record.endedBy()).as("the side that was lost").isEqualTo(lost);
        assertThat(record.direction()).isEqualTo(direction);
        await("no connection left", () -> node.proxy.pods().getFirst().connections().isEmpty());
    }

    private static SocketChannel echoConnection(Netns from, Netns to) throws Exception {
        return mesh.own(EchoServer.connect(from, new InetSocketAddress(to.ipv4(), 7000)));
    }

    @Test
    void anOutboundConnectionWhoseServerVanishesIsResetOnceTheProbesGoUnanswered() throws Exception {
        outboundServerVanishes(TransportKind.EPOLL);
    }

    @Test
    void soOnIoUring() throws Exception {
        Assumptions.assumeTrue(IoUring.isAvailable(), () -> "io_uring is not available here: "
                + IoUring.unavailabilityCause());
        outboundServerVanishes(TransportKind.IO_URING);
    }

    private void outboundServerVanishes(TransportKind transport) throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().keepalive(FAST).capture(a), o -> o.transport(transport));
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel ch = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(ch, "hi")).isEqualTo("hi");

        vanish(b);
        long vanished = System.nanoTime();

        assertThatThrownBy(() -> ch.read(ByteBuffer.allocate(1)))
                .as("the client is reset, not sent a FIN: its data did not end, it was cut")
                .isInstanceOf(SocketException.class);
        long afterMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - vanished);
        assertThat(afterMillis).as("given up after the silence and both probes").isBetween(1_500L, 20_000L);
        assertLost(node, Direction.OUTBOUND, Side.UPSTREAM); // the server
    }

    @Test
    void withKeepaliveOffTheSameConnectionStaysOpen() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().keepalive("off").capture(a));
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel ch = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(ch, "hi")).isEqualTo("hi");

        vanish(b);
        Thread.sleep(4_500); // longer than FAST gives a lost peer

        ch.configureBlocking(false);
        assertThat(ch.read(ByteBuffer.allocate(1))).as("still open, nothing to read").isZero();
        assertThat(node.closed).isEmpty();
        assertThat(node.proxy.pods().getFirst().connections()).hasSize(1);
    }

    @Test
    void aKeepaliveChangeReachesTheListenersOfRunningPodsAndTheirAcceptedConnections() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().keepalive("off").capture(b));
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel before = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(before, "before")).isEqualTo("before");

        node.rewrite(mesh.config().keepalive(FAST).capture(b));
        await("the new settings in force",
                () -> node.proxy.snapshot().proxy().keepalive().enabled());
        // The pod was not reopened: its connection from before the change is still relayed.
        assertThat(EchoServer.roundTrip(before, "still")).isEqualTo("still");
        before.close();
        await("the first connection's record", () -> node.closed.size() == 1);
        assertThat(node.closed.poll().outcome()).isEqualTo(Outcome.OK);

        // Accepted on b's inbound listener after the change, it inherits the listener's keepalive.
        SocketChannel after = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(after, "after")).isEqualTo("after");
        vanish(a);

        assertLost(node, Direction.INBOUND, Side.DOWNSTREAM); // the client
    }

    @Test
    void onlyTheSidesThatFaceTheNetworkProbe() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        mesh.start(mesh.config().capture(a, b)); // the default keepalive: 3 min, so no probe during the test
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel ch = echoConnection(a, b);
        assertThat(EchoServer.roundTrip(ch, "hi")).isEqualTo("hi");

        // a: the app's socket, the outbound listener's accepted one (both local), the proxy's upstream to b (network).
        assertThat(keepaliveSockets(a)).as("in a's namespace").hasSize(1).allMatch(l -> l.contains(":7000"));
        // b: the inbound listener's accepted one (network), the proxy's connection to the app and the app's (local).
        assertThat(keepaliveSockets(b)).as("in b's namespace").hasSize(1).allMatch(l -> l.contains(":15006"));
    }

    /** The established TCP sockets in {@code ns} whose keepalive timer runs, as {@code ss} lists them. */
    private static List<String> keepaliveSockets(Netns ns) {
        return ns.execOk("ss", "-tnoH", "state", "established").stdout().lines()
                .filter(l -> l.contains("timer:(keepalive")).toList();
    }
}
