package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The route decision on real captured traffic between two meshed pods: a connection to the other pod's app is
 * relayed (outbound at the client, inbound at the server), and one to the proxy's own capture port there is denied.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RouteTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void aMeshedDestinationIsRelayedAndTheProxysOwnPortThereIsDenied() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().capture(a, b));
        mesh.own(EchoServer.start(b, 7000));
        try (SocketChannel ch = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000))) {
            assertThat(EchoServer.roundTrip(ch, "through the mesh")).isEqualTo("through the mesh");
        }
        MeshExtension.await("both ends recorded", () -> node.closed.size() == 2);
        assertThat(node.closed).extracting(ClosedConnection::direction)
                .containsExactlyInAnyOrder(Direction.OUTBOUND, Direction.INBOUND);
        assertThat(node.closed).extracting(ClosedConnection::outcome).containsOnly(Outcome.OK);
        node.closed.clear();

        // b's inbound capture port, dialled from a: without the decision the proxy would connect to its own
        // listener in b; with it the client gets a reset and the connection is counted as denied.
        assertThatThrownBy(() -> a.call(() -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.connect(new InetSocketAddress(b.ipv4(), 15006), 10_000);
                InputStream in = s.getInputStream();
                return in.read();
            }
        })).isInstanceOf(IOException.class).isNotInstanceOf(SocketTimeoutException.class);
        MeshExtension.await("denied recorded", () -> node.closed.size() == 1);
        ClosedConnection denied = node.closed.peek();
        assertThat(denied.outcome()).isEqualTo(Outcome.DENIED);
        assertThat(denied.direction()).isEqualTo(Direction.OUTBOUND);
        assertThat(denied.destination()).isEqualTo(new InetSocketAddress(b.ipv4(), 15006));
        assertThat(node.proxy.pod("demo/b").orElseThrow().stats(Direction.INBOUND).snapshot().opened())
                .as("nothing more reached b's listener").isEqualTo(1);
    }
}
