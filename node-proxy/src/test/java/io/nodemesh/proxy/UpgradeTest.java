package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Replacing the node's proxy (docs/upgrade.md): a new proxy takes the pods' listening sockets and plain relays over
 * through the old one's handover socket, and the old one stops, with no new connection refused and no relay cut.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class UpgradeTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static UnaryOperator<NodeProxy.Builder> handover() {
        Path socket = mesh.dir().resolve("handover.sock");
        return b -> b.handoverSocket(socket);
    }

    @Test
    void theNewProxyTakesTheListenersOverWithoutRefusingAConnection() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, handover());
        mesh.own(EchoServer.start(b, 7000));
        ExecutorService inA = a.executor();
        InetSocketAddress echo = new InetSocketAddress(b.ipv4(), 7000);
        ConnectionChurn churn = ConnectionChurn.start(inA, echo, 300);
        Thread.sleep(500);

        TestNode next = mesh.startNode("next", config, handover());
        old.close();
        Thread.sleep(500);
        churn.close();

        assertThat(churn.failed()).as("failed new connections (first: %s)", churn.firstFailure()).isZero();
        assertThat(churn.ok()).isGreaterThan(200);
        PodCapture pod = next.proxy.pod("demo/a").orElseThrow();
        assertThat(pod.rulesInherited()).isTrue();
        assertThat(pod.listening()).isTrue();
        // The old proxy is gone; connections still reach the echo server, through the new one.
        try (StreamingClient after = StreamingClient.connect(inA, echo, 1, 64)) {
            after.exchange();
        }
        await("the new proxy counts its connections", () -> next.proxy.nodeStats()
                .direction(Direction.OUTBOUND).snapshot().opened() > 0);
    }

    @Test
    void aMovedRelayKeepsHalfCloseAndBackPressureAndIsReportedOnceByTheNewProxy() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, handover());
        mesh.own(EchoServer.start(b, 7000));
        InetSocketAddress echo = new InetSocketAddress(b.ipv4(), 7000);
        StreamingClient client = mesh.own(StreamingClient.connect(a, echo, 42));
        for (int i = 0; i < 10; i++) {
            client.exchange();
        }

        TestNode next = mesh.startNode("next", config, handover());
        old.close();

        assertThat(old.closed).as("the old proxy reports no moved connection").isEmpty();
        for (int i = 0; i < 10; i++) {
            client.exchange(); // the same connection, intact, through the new proxy
        }
        // Back-pressure: with nobody reading the echo, writing stops well short of what unbounded buffering takes.
        SocketChannel ch = client.channel();
        ch.configureBlocking(false);
        ByteBuffer chunk = ByteBuffer.allocate(64 * 1024);
        long written = 0;
        long stalledSince = System.nanoTime();
        while (written < 256L << 20 && System.nanoTime() - stalledSince < 500_000_000L) {
            chunk.clear();
            int n = ch.write(chunk);
            if (n > 0) {
                written += n;
                stalledSince = System.nanoTime();
            } else {
                Thread.sleep(5);
            }
        }
        assertThat(written).as("bytes written before the relay pushed back").isLessThan(128L << 20);
        // Half-close: the client's FIN reaches the server through the moved relay; the echo of everything comes back,
        // then the server's FIN.
        ch.configureBlocking(true);
        ch.shutdownOutput();
        ByteBuffer in = ByteBuffer.allocate(64 * 1024);
        long echoed = 0;
        int n;
        while ((n = ch.read(in)) >= 0) {
            echoed += n;
            in.clear();
        }
        assertThat(echoed).isEqualTo(written);

        await("the new proxy's record", () -> next.closed.size() == 1);
        ClosedConnection record = next.closed.peek();
        assertThat(record.outcome()).isEqualTo(Outcome.OK);
        assertThat(record.bytesFromSource()).isEqualTo(client.exchanged() + written);
        assertThat(record.bytesToSource()).isEqualTo(client.exchanged() + written);
        assertThat(old.closed).isEmpty();
    }
}
