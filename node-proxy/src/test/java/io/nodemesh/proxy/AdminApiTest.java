package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The admin API a node's operator reads: {@code /workloads}, {@code /services} and {@code /config_dump} of a running
 * proxy, the same on loopback and on its owner-only Unix socket, which a second proxy cannot take over.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class AdminApiTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String GHOST = """
              - name: ghost
                namespace: demo
                netns: /var/run/netns/nmt-no-such-pod
            """;
    private static final String REMOTE = """
              - name: remote
                namespace: other
                ips: [10.78.0.5]
                node: node-2
            """;
    private static final String POLICY = """
              - name: deny-legacy
                namespace: demo
                action: DENY
                rules:
                  - from: [{source: {ipBlocks: [10.99.0.0/16]}}]
                    to: [{operation: {ports: ["7000"]}}]
            """;

    @Test
    void servesWorkloadsServicesAndTheConfigInForceOnLoopbackAndOnItsSocket() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Netns c = mesh.pod("c");
        InetAddress vip = InetAddress.ofLiteral("10.77.0.100");
        Path socket = mesh.dir().resolve("admin.sock");
        // A socket left behind by a proxy that died: replaced.
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(socket));
        }
        assertThat(socket).exists();
        TestNode node = mesh.start(mesh.config().capture(a, b, c).service("web", vip, 80, 7000, List.of(b, c), List.of(c))
                .entry(GHOST).entry(REMOTE).policy(POLICY));
        assertThat(node.proxy.adminSocket()).isEqualTo(socket);
        assertThat(Files.getPosixFilePermissions(socket)).isEqualTo(PosixFilePermissions.fromString("rw-------"));

        JsonNode workloads = JSON.readTree(node.admin("/workloads")).path("workloads");
        assertThat(workloads).hasSize(5);
        assertThat(workload(workloads, "demo", "a").path("addresses").get(0).asText()).isEqualTo("10.77.0.2");
        assertThat(workload(workloads, "demo", "a").path("capture").asText()).isEqualTo("captured");
        JsonNode ghost = workload(workloads, "demo", "ghost");
        assertThat(ghost.path("capture").asText()).isEqualTo("failed(netns_not_found)");
        assertThat(ghost.path("captureError").asText()).contains("/var/run/netns/nmt-no-such-pod");
        JsonNode remote = workload(workloads, "other", "remote");
        assertThat(remote.path("node").asText()).isEqualTo("node-2");
        assertThat(remote.path("capture").isNull()).isTrue();
        JsonNode onlyOther = JSON.readTree(node.admin("/workloads?namespace=other")).path("workloads");
        assertThat(onlyOther).hasSize(1);
        assertThat(onlyOther.get(0).path("pod").asText()).isEqualTo("remote");

        JsonNode web = JSON.readTree(node.admin("/services")).path("services").get(0);
        assertThat(web.path("namespace").asText() + "/" + web.path("name").asText()).isEqualTo("demo/web");
        assertThat(web.path("vips").get(0).asText()).isEqualTo("10.77.0.100");
        assertThat(web.path("readyEndpoints").asInt()).isEqualTo(1);
        assertThat(web.path("totalEndpoints").asInt()).isEqualTo(2);
        assertThat(web.path("ports").get(0).path("port").asInt()).isEqualTo(80);
        assertThat(JSON.readTree(node.admin("/services?namespace=other")).path("services")).isEmpty();

        JsonNode dump = JSON.readTree(node.admin("/config_dump"));
        assertThat(dump.path("source").path("source").asText()).isEqualTo(node.file.toString());
        assertThat(dump.path("boot").path("adminSocket").asText()).isEqualTo(socket.toString());
        assertThat(dump.path("proxy").path("drainTimeout").asText()).isEqualTo("2s");
        assertThat(dump.path("proxy").path("rules").asText()).isEqualTo("iptables");
        assertThat(dump.path("proxy").path("capture").asText()).isEqualTo("redirect");
        assertThat(dump.path("pods")).hasSize(5);
        assertThat(dump.path("pods").get(0).path("netns").asText()).isEqualTo(a.path().toString());
        assertThat(dump.path("services").get(0).path("endpoints")).hasSize(2);
        JsonNode policy = dump.path("policies").get(0);
        assertThat(policy.path("action").asText()).isEqualTo("DENY");
        assertThat(policy.path("rules").get(0).path("from").get(0).path("source").path("ipBlocks").get(0).asText())
                .isEqualTo("10.99.0.0/16");

        // The Unix socket serves the same pages.
        for (String page : List.of("/workloads", "/services", "/config_dump", "/stats")) {
            assertThat(JSON.readTree(overSocket(socket, page))).as(page).isEqualTo(JSON.readTree(node.admin(page)));
        }

        // A second proxy on the same node cannot take the socket over; the first keeps serving.
        NodeProxy second = mesh.own(NodeProxy.builder().configFile(node.file).admin(new InetSocketAddress("127.0.0.1", 0))
                .adminSocket(socket).readiness(new InetSocketAddress("127.0.0.1", 0)).build());
        assertThatThrownBy(second::start).isInstanceOf(IOException.class)
                .hasMessageContaining("another process already serves " + socket);
        assertThat(overSocket(socket, "/healthz")).isEqualTo("ok\n");

        node.close();
        assertThat(socket).doesNotExist();
    }

    @Test
    void refusesToReplaceAFileThatIsNoSocket() throws Exception {
        Path socket = Files.writeString(mesh.dir().resolve("admin.sock"), "not a socket");
        NodeProxy proxy = mesh.own(NodeProxy.builder().configFile(Files.writeString(mesh.dir().resolve("mesh.yaml"),
                        "proxy: {rules: none}\npods: []\n"))
                .admin(new InetSocketAddress("127.0.0.1", 0)).adminSocket(socket)
                .readiness(new InetSocketAddress("127.0.0.1", 0)).build());
        assertThatThrownBy(proxy::start).isInstanceOf(IOException.class)
                .hasMessage(socket + " exists and is not a socket; refusing to replace it");
        assertThat(Files.readString(socket)).isEqualTo("not a socket");
    }

    private static JsonNode workload(JsonNode workloads, String namespace, String pod) {
        for (JsonNode w : workloads) {
            if (w.path("namespace").asText().equals(namespace) && w.path("pod").asText().equals(pod)) {
                return w;
            }
        }
        throw new AssertionError("no workload " + namespace + "/" + pod + " in " + workloads);
    }

    /** GET {@code page} over the admin Unix socket: the body of a 200 answer. */
    private static String overSocket(Path socket, String page) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap(("GET " + page + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            String answer = new String(readAll(ch), StandardCharsets.UTF_8);
            assertThat(answer).startsWith("HTTP/1.1 200 OK");
            return answer.substring(answer.indexOf("\r\n\r\n") + 4);
        }
    }

    private static byte[] readAll(SocketChannel ch) throws IOException {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        ByteBuffer buffer = ByteBuffer.allocate(8192);
        while (ch.read(buffer.clear()) >= 0) {
            out.write(buffer.array(), 0, buffer.position());
        }
        return out.toByteArray();
    }
}
