package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import io.nodemesh.proxy.relay.SocketConnection;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the epoll transport's socket relay ({@link SocketConnection}) does beyond what {@link CaptureTest} holds every
 * transport to: a plain captured connection is one, and a client that resets while the upstream is still connecting
 * ends it then, not at the connect timeout.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SocketRelayTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void aPlainCapturedConnectionIsRelayedBetweenSockets() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().capture(a), x -> x.transport(TransportKind.EPOLL));
        EchoServer echo = mesh.own(EchoServer.start(b, 8080));
        a.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
                s.getOutputStream().write(7);
                assertThat(s.getInputStream().read()).isEqualTo(7);
                assertThat(node.proxy.pods().getFirst().connections())
                        .singleElement().isInstanceOf(SocketConnection.class);
            }
            return null;
        });
        await("closed", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.OK);
        assertThat(echo).isNotNull();
    }

    @Test
    void aClientThatResetsWhileTheUpstreamConnectsEndsTheConnectionThen() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().connectTimeout("20s").capture(a), x -> x.transport(TransportKind.EPOLL));
        // b answers nothing: the proxy's upstream connect hangs for its whole 20 s timeout.
        b.execOk("nft", "add table inet silent");
        b.execOk("nft", "add chain inet silent in { type filter hook input priority -300 ; policy drop ; }");
        long start = System.nanoTime();
        a.call(() -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
            await("the proxy holds it", () -> node.proxy.pods().getFirst().connections().size() == 1);
            s.setSoLinger(true, 0);
            s.close(); // RST
            return null;
        });
        await("recorded", () -> node.closed.size() == 1);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(10_000);
        ClosedConnection record = node.closed.peek();
        assertThat(record.outcome()).isEqualTo(Outcome.RESET);
        assertThat(record.endedBy()).isEqualTo(Side.DOWNSTREAM);
        await("no connection left", () -> node.proxy.pods().getFirst().connections().isEmpty());
    }
}
