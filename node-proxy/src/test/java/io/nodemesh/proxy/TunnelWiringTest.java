package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The mutual-TLS tunnel as the proxy wires it, on real captured pods with a mesh CA: a meshed pod reaches a pod of a
 * strict namespace (which refuses all plaintext) through the destination's :15008, and the destination reports the
 * source pod's address; a client outside the mesh is still refused there.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TunnelWiringTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void aMeshedPodReachesAStrictPodThroughTheTunnelAndAnOutsiderDoesNot() throws Exception {
        Path caDir = mesh.meshCa();
        Netns client = mesh.pod("client");
        Netns server = mesh.pod("server");
        Netns outsider = mesh.pod("outsider");
        TestNode node = mesh.start(mesh.config().identity(caDir, "1h")
                .demoNamespace("nodemesh.io/peer-authentication: strict").capture(client, server));
        node.awaitCertificates("client", "server");
        mesh.own(EchoServer.start(server, 7000));
        InetSocketAddress to = new InetSocketAddress(server.ipv4(), 7000);

        for (int i = 0; i < 3; i++) {
            assertThat(roundTrip(client, to, "through the tunnel " + i)).isEqualTo("through the tunnel " + i);
        }
        MeshExtension.await("the server's side of the three streams reported", () -> node.closed.stream()
                .filter(c -> c.direction() == Direction.INBOUND && c.outcome() == Outcome.OK).count() == 3);
        ClosedConnection inbound = node.closed.stream().filter(c -> c.direction() == Direction.INBOUND).findFirst()
                .orElseThrow();
        assertThat(inbound.source().getAddress()).as("the source, from the tunnel's forwarded header")
                .isEqualTo(client.ipv4());
        assertThat(inbound.opening().mutualTls()).as("reported as mutual TLS at the destination").isTrue();
        String stats = node.admin("/stats");
        assertThat(stats).contains("\"tunnel\"", "\"pooledConnections\" : 1", "\"200\" : 3",
                "\"handshakeFailures\" : 0");
        assertThat(node.proxy.pod("demo/server").orElseThrow().stats(Direction.INBOUND).snapshot().opened())
                .as("the streams, not the plaintext capture").isEqualTo(3);

        assertThatThrownBy(() -> roundTrip(outsider, to, "plaintext")).isInstanceOf(IOException.class);
        MeshExtension.await("the outsider's refusal recorded", () -> node.closed.stream()
                .anyMatch(c -> c.direction() == Direction.INBOUND && c.outcome() == Outcome.DENIED));
    }

    private static String roundTrip(Netns from, InetSocketAddress to, String text) throws Exception {
        try (SocketChannel ch = EchoServer.connect(from, to)) {
            return EchoServer.roundTrip(ch, text);
        }
    }
}
