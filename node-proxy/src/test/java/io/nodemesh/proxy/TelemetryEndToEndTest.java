package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.stats.DirectionStats;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The whole telemetry path with real parts: captured traffic between two pods in namespaces, the
 * proxy's reporter, the agent on its Unix socket, and {@code /metrics} scraped over HTTP.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class TelemetryEndToEndTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();



    @Test
    void capturedTrafficShowsUpInTheAgentsMetricsAndSurvivesTheAgentGoingAway() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Path socket = mesh.dir().resolve("telemetry.sock");

        TelemetryAgent agent = startAgent(socket);
        try {
            // Wired as `nodemesh proxy` wires it: the proxy starts its reporter, with its own snapshot for the workloads.
            ReporterConfig reporting = ReporterConfig.builder()
                    .socketPath(socket).node("test-node").reporterId("test-proxy")
                    .flushInterval(Duration.ofMillis(100))
                    .initialBackoff(Duration.ofMillis(50)).maxBackoff(Duration.ofMillis(500))
                    .build();
            NodeProxy proxy = mesh.start(mesh.config().capture(a, b), o -> o.telemetry(reporting).removeRulesOnStop(true)).proxy;
            TelemetryReporter reporter = proxy.reporter().orElseThrow();
            mesh.own(SeededServer.start(b, 8080, 30_000, 70_000, false));

            // 1. Exact counts in /metrics within 2 s of the connections closing.
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 5, 30_000, 70_000)).containsOnly("ok");
            await("proxy closed 5 each way", () -> closed(proxy, Direction.OUTBOUND) == 5
                    && closed(proxy, Direction.INBOUND) == 5);
            long closedAt = System.nanoTime();
            String source = "reporter=\"source\",source_principal=\"spiffe://cluster.local/ns/demo/sa/a\",source_workload=\"a\"";
            awaitMetric(agent, "istio_tcp_connections_closed_total", source, 5, Duration.ofSeconds(2));
            assertThat(System.nanoTime() - closedAt).isLessThan(Duration.ofSeconds(2).toNanos());
            DirectionStats.Snapshot out = proxy.nodeStats().direction(Direction.OUTBOUND).snapshot();
            DirectionStats.Snapshot in = proxy.nodeStats().direction(Direction.INBOUND).snapshot();
            String metrics = scrape(agent);
            // Istio: received = bytes of the request (from the source), sent = bytes of the response.
            assertThat(value(metrics, "istio_tcp_received_bytes_total", "reporter=\"source\"")).isEqualTo(out.bytesFromSource());
            assertThat(value(metrics, "istio_tcp_sent_bytes_total", "reporter=\"source\"")).isEqualTo(out.bytesToSource());
            assertThat(value(metrics, "istio_tcp_received_bytes_total", "reporter=\"destination\"")).isEqualTo(in.bytesFromSource());
            assertThat(value(metrics, "istio_tcp_connections_closed_total", "reporter=\"destination\"")).isEqualTo(5);
            assertThat(out.bytesFromSource()).isGreaterThanOrEqualTo(5 * 30_000L);
            assertThat(out.bytesToSource()).isGreaterThanOrEqualTo(5 * 70_000L);
            assertThat(metrics).contains("destination_workload=\"b\"", "destination_principal=\"spiffe://cluster.local/ns/demo/sa/b\"",
                    "source_workload_namespace=\"demo\"");

            // 1b. A connection counts as opened while it is still open, and is not counted again when it closes.
            try (Socket held = a.call(() -> new Socket(b.ipv4(), 8080))) {
                awaitMetric(agent, "istio_tcp_connections_opened_total", source, 6, Duration.ofSeconds(2));
                assertThat(sum(scrape(agent), "istio_tcp_connections_closed_total", source)).isEqualTo(5);
                assertThat(held.isConnected()).isTrue();
            }
            awaitMetric(agent, "istio_tcp_connections_closed_total", source, 6, Duration.ofSeconds(2));
            assertThat(sum(scrape(agent), "istio_tcp_connections_opened_total", source)).isEqualTo(6);

            // 2. The agent goes away while traffic flows: no connection fails, drops are counted.
            agent.close();
            long droppedBefore = reporter.droppedRecords();
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 20, 30_000, 70_000)).containsOnly("ok");
            await("reporter counts the records it could not send", () -> reporter.droppedRecords() > droppedBefore);

            // 3. The agent comes back on the same socket: reporting resumes by itself.
            agent = startAgent(socket);
            TelemetryAgent restarted = agent;
            await("reporter reconnected", () -> {
                try {
                    assertThat(SeededClients.run(a, b.ipv4(), 8080, 1, 30_000, 70_000)).containsOnly("ok");
                    return sum(scrape(restarted), "istio_tcp_connections_closed_total", source) > 0;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
        } finally {
            agent.close();
        }
    }

    @Test
    void principalsAreInTheTrustDomainTheProxyIsConfiguredWith() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Path socket = mesh.dir().resolve("telemetry.sock");
        TelemetryAgent agent = startAgent(socket);
        try {
            mesh.start(mesh.config().trustDomain("example.org").capture(a, b),
                    o -> o.telemetry(reporting(socket)).removeRulesOnStop(true));
            mesh.own(SeededServer.start(b, 8080, 1_000, 1_000, false));
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 1, 1_000, 1_000)).containsOnly("ok");
            awaitMetric(agent, "istio_tcp_connections_closed_total",
                    "reporter=\"source\",source_principal=\"spiffe://example.org/ns/demo/sa/a\"", 1,
                    Duration.ofSeconds(5));
            assertThat(scrape(agent)).doesNotContain("spiffe://cluster.local/");
        } finally {
            agent.close();
        }
    }

    @Test
    void theTunnelsCountersReachTheScrape() throws Exception {
        Path caDir = mesh.meshCa();
        Netns client = mesh.pod("client");
        Netns server = mesh.pod("server");
        Netns outsider = mesh.pod("outsider");
        Path socket = mesh.dir().resolve("telemetry.sock");
        TelemetryAgent agent = startAgent(socket);
        try {
            TestNode node = mesh.start(mesh.config().identity(caDir, "1h").capture(client, server),
                    o -> o.telemetry(reporting(socket)).removeRulesOnStop(true));
            node.awaitCertificates("client", "server");
            mesh.own(SeededServer.start(server, 8080, 1_000, 1_000, false));
            // Two app connections through one tunnel connection, and plaintext on the server's :15008.
            assertThat(SeededClients.run(client, server.ipv4(), 8080, 2, 1_000, 1_000)).containsOnly("ok");
            try (Socket plain = outsider.call(() -> new Socket(server.ipv4(), 15008))) {
                plain.getOutputStream().write("GET / HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                plain.setSoTimeout(5000);
                assertThat(plain.getInputStream().read()).as("refused: closed").isEqualTo(-1);
            }

            awaitMetric(agent, "nodemesh_tunnel_handshake_failures_total", "reason=\"not_tls\"", 1,
                    Duration.ofSeconds(5));
            String metrics = scrape(agent);
            assertThat(sum(metrics, "nodemesh_tunnel_connections_total", "side=\"client\"")).isEqualTo(1);
            assertThat(sum(metrics, "nodemesh_tunnel_connections_total", "side=\"server\"")).isEqualTo(2);
            assertThat(sum(metrics, "nodemesh_tunnel_streams_opened_total", "")).isEqualTo(2);
            assertThat(sum(metrics, "nodemesh_tunnel_streams_answered_total", "status=\"200\"")).isEqualTo(2);
            assertThat(sum(metrics, "nodemesh_tunnel_handshake_failures_total", "reason=\"untrusted_ca\""))
                    .isZero();
            assertThat(sum(metrics, "nodemesh_tunnel_pooled_connections", "")).isEqualTo(1);
            assertThat(node.admin("/stats")).contains("\"handshakeFailures\" : 1", "\"not_tls\" : 1");
        } finally {
            agent.close();
        }
    }

    /** Reporting to the agent on {@code socket}, a batch at least every 100 ms. */
    private static ReporterConfig reporting(Path socket) {
        return ReporterConfig.builder().socketPath(socket).node("test-node").reporterId("test-proxy")
                .flushInterval(Duration.ofMillis(100)).build();
    }

    private static long closed(NodeProxy proxy, Direction d) {
        return proxy.nodeStats().direction(d).snapshot().closed();
    }

    private static TelemetryAgent startAgent(Path socket) throws Exception {
        return TelemetryAgent.start(AgentConfig.builder().socketPath(socket)
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build());
    }

    private void awaitMetric(TelemetryAgent agent, String name, String labels, long expected, Duration limit)
            throws Exception {
        long deadline = System.nanoTime() + limit.toNanos();
        long seen;
        do {
            seen = sum(scrape(agent), name, labels);
            if (seen == expected) {
                return;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError(name + "{" + labels + "} is " + seen + ", expected " + expected + " within " + limit);
    }

    private static String scrape(TelemetryAgent agent) throws Exception {
        return MetricsScrape.fetch(agent.metricsAddress());
    }

    /** Sum of the samples of {@code name} whose label text contains every comma-separated label of {@code labels}. */
    private static long sum(String metrics, String name, String labels) {
        return (long) MetricsScrape.sum(metrics, name, labels.split(","));
    }

    private static long value(String metrics, String name, String labels) {
        return sum(metrics, name, labels);
    }
}
