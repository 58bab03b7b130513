package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.capture.DirectionStats;
import io.nodemesh.proxy.capture.PodCapture;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.ClosedConnection.Direction;
import io.nodemesh.proxy.telemetry.ClosedConnection.Outcome;
import io.nodemesh.testing.Lan;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.testing.TestNamespace;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** A pod's outbound connections are captured in its own namespace and relayed intact. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CaptureTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @TempDir
    Path dir;

    @Test
    void capturedConnectionsCarry100MegabytesEachWayIntact() throws Exception {
        Lan lan = net.lan("node");
        TestNamespace a = lan.attach("pa", "10.77.0.2/24");
        TestNamespace b = lan.attach("pb", "10.77.0.3/24");
        int connections = 200;
        long perConnection = 512 * 1024;
        try (TestMesh mesh = TestMesh.start(dir, TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a), null);
             SeededServer server = SeededServer.start(b, 8080, perConnection, perConnection, false)) {
            List<String> verdicts = SeededClients.run(a, b.ipv4(), 8080, connections, perConnection, perConnection);

            assertThat(verdicts).as("client verdicts").containsOnly("ok").hasSize(connections);
            assertThat(server.verdicts().values()).as("server verdicts").containsOnly("ok").hasSize(connections);
            PodCapture pod = mesh.proxy.pod("demo/a").orElseThrow();
            TestMesh.await("200 closed connections", () -> pod.stats(Direction.OUTBOUND).snapshot().closed() == connections);
            DirectionStats.Snapshot out = pod.stats(Direction.OUTBOUND).snapshot();
            assertThat(out.opened()).isEqualTo(connections);
            assertThat(out.closedByOutcome()).containsExactly(java.util.Map.entry(Outcome.OK, (long) connections));
            assertThat(out.bytesFromSource()).isEqualTo(connections * (perConnection + 4));
            assertThat(out.bytesToSource()).isEqualTo(connections * perConnection);
            assertThat(mesh.closed).hasSize(connections).allSatisfy(c -> {
                assertThat(c.direction()).isEqualTo(Direction.OUTBOUND);
                assertThat(c.podName()).isEqualTo("a");
                assertThat(c.podNamespace()).isEqualTo("demo");
                assertThat(c.destination()).isEqualTo(new InetSocketAddress(b.ipv4(), 8080));
                assertThat(c.source().getAddress()).isEqualTo(a.ipv4());
            });
            String stats = mesh.admin("/stats");
            assertThat(stats).contains("\"pod\" : \"demo/a\"").contains("\"opened\" : " + connections);
            assertThat(mesh.admin("/connections")).contains("\"destination\" : \"10.77.0.3:8080\"");
        }
    }

    @Test
    void halfCloseKeepsTheReplyDirectionOpen() throws Exception {
        Lan lan = net.lan("node");
        TestNamespace a = lan.attach("pa", "10.77.0.2/24");
        TestNamespace b = lan.attach("pb", "10.77.0.3/24");
        try (TestMesh mesh = TestMesh.start(dir, TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a), null);
             SeededServer server = SeededServer.start(b, 8080, 1000, 3 * 1024 * 1024, true)) {
            // The server answers only after it has seen the client's FIN: a lost FIN hangs, a full close loses the reply.
            List<String> verdicts = SeededClients.run(a, b.ipv4(), 8080, 3, 1000, 3 * 1024 * 1024);
            assertThat(verdicts).containsOnly("ok");
            assertThat(server.verdicts().values()).containsOnly("ok");
            TestMesh.await("3 closed", () -> mesh.closed.size() == 3);
            assertThat(mesh.closed).extracting(ClosedConnection::outcome).containsOnly(Outcome.OK);
        }
    }

    @Test
    void refusedDestinationResetsTheClientPromptly() throws Exception {
        Lan lan = net.lan("node");
        TestNamespace a = lan.attach("pa", "10.77.0.2/24");
        TestNamespace b = lan.attach("pb", "10.77.0.3/24");
        try (TestMesh mesh = TestMesh.start(dir, TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a), null)) {
            // Nothing listens on b:9. Without the proxy connect() fails; with it, the accept succeeded,
            // so the refusal must come back as a reset on the first read instead of a hang.
            assertThatThrownBy(() -> a.call(() -> {
                try (Socket s = new Socket()) {
                    s.setSoTimeout(10_000);
                    s.connect(new InetSocketAddress(b.ipv4(), 9), 10_000);
                    InputStream in = s.getInputStream();
                    return in.read();
                }
            })).isInstanceOf(IOException.class).satisfies(e -> assertThat(e)
                    .isNotInstanceOf(java.net.SocketTimeoutException.class));
            TestMesh.await("refused recorded", () -> mesh.closed.size() == 1);
            assertThat(mesh.closed.peek().outcome()).isEqualTo(Outcome.REFUSED);
        }
    }
}
