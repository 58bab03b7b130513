package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The mutual-TLS tunnel as the proxy wires it, on real captured pods with a mesh CA: a meshed pod reaches a pod of a
 * strict namespace (which refuses all plaintext) through the destination's :15008, and the destination reports the
 * source pod's address; a client outside the mesh is still refused there. The admin API's {@code /connections} shows
 * both ends' identities, the tunnel and the security of each connection.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TunnelWiringTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CLIENT_ID = "spiffe://cluster.local/ns/demo/sa/client";
    private static final String SERVER_ID = "spiffe://cluster.local/ns/demo/sa/server";

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

        // Held open: a tunnelled connection, and a plaintext one to the outsider (outside the mesh: passed through).
        SocketChannel tunnelled = mesh.own(EchoServer.connect(client, to));
        assertThat(EchoServer.roundTrip(tunnelled, "held open")).isEqualTo("held open");
        mesh.own(EchoServer.start(outsider, 7000));
        SocketChannel plain = mesh.own(EchoServer.connect(client, new InetSocketAddress(outsider.ipv4(), 7000)));
        assertThat(EchoServer.roundTrip(plain, "outside the mesh")).isEqualTo("outside the mesh");
        connectionsShowIdentitiesTunnelAndSecurity(node, client, server, outsider);
    }

    /** What {@code /connections} says of the held connections and of the outsider's refused one. */
    private static void connectionsShowIdentitiesTunnelAndSecurity(TestNode node, Netns client, Netns server,
            Netns outsider) throws Exception {
        String app = server.ipv4().getHostAddress() + ":7000";
        JsonNode connections = JSON.readTree(node.admin("/connections"));
        JsonNode source = only(connections.path("open"), "demo/client", app);
        assertThat(source.path("direction").asText()).isEqualTo("outbound");
        assertThat(source.path("path").asText()).isEqualTo("tunnel");
        assertThat(source.path("tunnel").asText()).as("the destination's tunnel port")
                .isEqualTo(server.ipv4().getHostAddress() + ":15008");
        assertThat(source.path("security").asText()).isEqualTo("mutual_tls");
        assertThat(source.path("sourcePrincipal").asText()).isEqualTo(CLIENT_ID);
        assertThat(source.path("destinationPrincipal").asText()).as("proved by the server's certificate")
                .isEqualTo(SERVER_ID);

        JsonNode destination = only(connections.path("open"), "demo/server", app);
        assertThat(destination.path("direction").asText()).isEqualTo("inbound");
        assertThat(destination.path("path").asText()).isEqualTo("tunnel");
        assertThat(destination.path("tunnel").asText()).as("the source proxy's end of the tunnel")
                .startsWith(client.ipv4().getHostAddress() + ":");
        assertThat(destination.path("security").asText()).isEqualTo("mutual_tls");
        assertThat(destination.path("sourcePrincipal").asText()).as("proved by the client's certificate")
                .isEqualTo(CLIENT_ID);
        assertThat(destination.path("destinationPrincipal").asText()).isEqualTo(SERVER_ID);

        JsonNode passthrough = only(connections.path("open"), "demo/client",
                outsider.ipv4().getHostAddress() + ":7000");
        assertThat(passthrough.path("path").asText()).isEqualTo("plaintext");
        assertThat(passthrough.path("security").asText()).isEqualTo("none");
        assertThat(passthrough.path("tunnel").isNull()).isTrue();
        assertThat(passthrough.path("sourcePrincipal").asText()).isEqualTo(CLIENT_ID);
        assertThat(passthrough.path("destinationPrincipal").isNull()).as("nothing proved it").isTrue();

        JsonNode refused = only(connections.path("recent"), "demo/server", app, "DENIED");
        assertThat(refused.path("path").asText()).isEqualTo("plaintext");
        assertThat(refused.path("security").asText()).isEqualTo("none");
        assertThat(refused.path("sourcePrincipal").isNull()).isTrue();
        assertThat(refused.path("destinationPrincipal").asText()).isEqualTo(SERVER_ID);

        JsonNode serverOnly = JSON.readTree(node.admin("/connections?pod=demo/server"));
        assertThat(serverOnly.path("open")).hasSize(1);
        assertThat(serverOnly.path("open").get(0)).isEqualTo(destination);
        assertThat(serverOnly.path("recent")).allSatisfy(c -> assertThat(c.path("pod").asText()).isEqualTo("demo/server"));
    }

    /** The one connection of {@code pod} to {@code destination} in {@code list} (the admin API's open or recent). */
    private static JsonNode only(JsonNode list, String pod, String destination) {
        return only(list, pod, destination, null);
    }

    /** The one connection of {@code pod} to {@code destination} that ended with {@code outcome} (null: any). */
    private static JsonNode only(JsonNode list, String pod, String destination, String outcome) {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode c : list) {
            if (c.path("pod").asText().equals(pod) && c.path("destination").asText().equals(destination)
                    && (outcome == null || c.path("outcome").asText().equals(outcome))) {
                found.add(c);
            }
        }
        assertThat(found).as(pod + " -> " + destination + " in " + list).hasSize(1);
        return found.getFirst();
    }

    private static String roundTrip(Netns from, InetSocketAddress to, String text) throws Exception {
        try (SocketChannel ch = EchoServer.connect(from, to)) {
            return EchoServer.roundTrip(ch, text);
        }
    }
}
