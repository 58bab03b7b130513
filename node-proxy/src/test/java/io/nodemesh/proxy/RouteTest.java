package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The route decision on real captured traffic between two meshed pods: a connection to the other pod's app is
 * relayed (outbound at the client, inbound at the server), and one to the proxy's own capture port there is denied.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class RouteTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @TempDir
    Path dir;

    @Test
    void aMeshedDestinationIsRelayedAndTheProxysOwnPortThereIsDenied() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String yaml = TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a) + TestMesh.pod("b", b);
        try (TestMesh mesh = TestMesh.start(dir, yaml, null);
             EchoServer echo = EchoServer.start(b, 7000);
             SocketChannel ch = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000))) {
            assertThat(EchoServer.roundTrip(ch, "through the mesh")).isEqualTo("through the mesh");
            ch.close();
            TestMesh.await("both ends recorded", () -> mesh.closed.size() == 2);
            assertThat(mesh.closed).extracting(ClosedConnection::direction)
                    .containsExactlyInAnyOrder(Direction.OUTBOUND, Direction.INBOUND);
            assertThat(mesh.closed).extracting(ClosedConnection::outcome).containsOnly(Outcome.OK);
            mesh.closed.clear();

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
            TestMesh.await("denied recorded", () -> mesh.closed.size() == 1);
            ClosedConnection denied = mesh.closed.peek();
            assertThat(denied.outcome()).isEqualTo(Outcome.DENIED);
            assertThat(denied.direction()).isEqualTo(Direction.OUTBOUND);
            assertThat(denied.destination()).isEqualTo(new InetSocketAddress(b.ipv4(), 15006));
            assertThat(mesh.proxy.pod("demo/b").orElseThrow().stats(Direction.INBOUND).snapshot().opened())
                    .as("nothing reached b's listener").isEqualTo(1);
        }
    }
}
