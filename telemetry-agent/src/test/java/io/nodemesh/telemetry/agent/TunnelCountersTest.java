package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.HandshakeFailure;
import io.nodemesh.telemetry.v1.HandshakeFailureCount;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.StreamStatusCount;
import io.nodemesh.telemetry.v1.TunnelConnectFailure;
import io.nodemesh.telemetry.v1.TunnelConnectFailureCount;
import io.nodemesh.telemetry.v1.TunnelTotals;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tunnel's counters a proxy reports, in the node's scrape: counters that grow by what each running total adds
 * (once, across streams and reporter restarts), and the pooled-connections gauge while the reporting stream lasts.
 */
final class TunnelCountersTest {

    @TempDir
    Path dir;

    private TelemetryAgent start() throws Exception {
        return TelemetryAgent.start(AgentConfig.builder().socketPath(dir.resolve("telemetry.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build());
    }

    /** Totals as a proxy sends them: {@code n} of everything, {@code pooled} connections held. */
    private static TunnelTotals.Builder totals(long n, int pooled) {
        return TunnelTotals.newBuilder()
                .setClientConnections(n).setClientStreams(3 * n).setServerConnections(2 * n)
                .addConnectionFailures(TunnelConnectFailureCount.newBuilder()
                        .setReason(TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_CONNECT_TIMEOUT).setTotal(n))
                .addHandshakeFailures(HandshakeFailureCount.newBuilder()
                        .setReason(HandshakeFailure.HANDSHAKE_FAILURE_UNTRUSTED_CA).setTotal(n))
                .addHandshakeFailures(HandshakeFailureCount.newBuilder()
                        .setReason(HandshakeFailure.HANDSHAKE_FAILURE_NOT_TLS).setTotal(0))
                .addServerStreams(StreamStatusCount.newBuilder().setStatus(200).setTotal(4 * n))
                .addServerStreams(StreamStatusCount.newBuilder().setStatus(0).setTotal(n))
                .setPooledConnections(pooled);
    }

    private static ReportBatch batch(String reporter, TunnelTotals.Builder totals) {
        return ReportClient.batch().setReporterId(reporter).setTunnelTotals(totals).build();
    }

    @Test
    void countsEachTotalOnceAndShowsThePoolWhileTheStreamLasts() throws Exception {
        try (TelemetryAgent agent = start(); ReportClient client = new ReportClient(agent.socketPath())) {
            String metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.samples(metrics, "nodemesh_tunnel_handshake_failures_total"))
                    .as("every reason from the start").hasSize(8)
                    .contains("nodemesh_tunnel_handshake_failures_total{reason=\"no_client_certificate\"} 0.0");
            assertThat(MetricsScrape.samples(metrics, "nodemesh_tunnel_connections_total")).hasSize(2);
            assertThat(MetricsScrape.samples(metrics, "nodemesh_tunnel_pooled_connections")).isEmpty();

            ReportClient.OpenStream stream = client.open();
            stream.send(batch("proxy-1", totals(1, 2)));
            stream.send(batch("proxy-1", totals(3, 5)));
            Scrape.awaitValue(agent, "nodemesh_tunnel_streams_opened_total", 9, "");
            metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_connections_total", "side=\"client\"")).isEqualTo(3);
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_connections_total", "side=\"server\"")).isEqualTo(6);
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_connection_failures_total",
                    "reason=\"connect_timeout\"")).isEqualTo(3);
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_connection_failures_total",
                    "reason=\"handshake\"")).isZero();
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_handshake_failures_total",
                    "reason=\"untrusted_ca\"")).isEqualTo(3);
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_streams_answered_total", "status=\"200\""))
                    .isEqualTo(12);
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_streams_answered_total", "status=\"other\""))
                    .isEqualTo(3);
            assertThat(MetricsScrape.samples(metrics, "nodemesh_tunnel_pooled_connections"))
                    .containsExactly("nodemesh_tunnel_pooled_connections 5.0");

            // The proxy goes away: its pool goes from the scrape; what it counted stays.
            assertThat(stream.finish().status().getCode()).isEqualTo(Status.Code.OK);
            metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.samples(metrics, "nodemesh_tunnel_pooled_connections")).isEmpty();
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_handshake_failures_total",
                    "reason=\"untrusted_ca\"")).isEqualTo(3);

            // The same reporter on a new stream repeats its totals: nothing new. A restarted proxy (a new reporter,
            // counting from zero) adds all of its own.
            assertThat(client.send(batch("proxy-1", totals(3, 5))).status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(client.send(batch("proxy-2", totals(2, 1))).status().getCode()).isEqualTo(Status.Code.OK);
            metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_handshake_failures_total",
                    "reason=\"untrusted_ca\"")).isEqualTo(5);
            assertThat(MetricsScrape.value(metrics, "nodemesh_tunnel_connections_total", "side=\"client\"")).isEqualTo(5);
        }
    }

    @Test
    void refusesTotalsThatMakeNoSense() throws Exception {
        try (TelemetryAgent agent = start(); ReportClient client = new ReportClient(agent.socketPath())) {
            List<ReportBatch> bad = List.of(
                    batch("p", totals(1, 0).setClientConnections(-1)),
                    batch("p", totals(1, -1)),
                    batch("p", totals(1, 0).addConnectionFailures(TunnelConnectFailureCount.newBuilder()
                            .setReasonValue(0).setTotal(1))),
                    batch("p", totals(1, 0).addHandshakeFailures(HandshakeFailureCount.newBuilder()
                            .setReasonValue(99).setTotal(1))),
                    batch("p", totals(1, 0).addHandshakeFailures(HandshakeFailureCount.newBuilder()
                            .setReason(HandshakeFailure.HANDSHAKE_FAILURE_UNTRUSTED_CA).setTotal(2))),
                    batch("p", totals(1, 0).addServerStreams(StreamStatusCount.newBuilder().setStatus(700))),
                    batch("p", totals(1, 0).addServerStreams(StreamStatusCount.newBuilder().setStatus(503)
                            .setTotal(-2))));
            List<String> problems = List.of(
                    "tunnel_totals.client_connections: 18446744073709551615 is not a believable count",
                    "tunnel_totals.pooled_connections: 4294967295 is not a believable count",
                    "tunnel_totals.connection_failures[1].reason: 0 is not a known tunnel connection failure",
                    "tunnel_totals.handshake_failures[2].reason: 99 is not a known handshake failure",
                    "tunnel_totals.handshake_failures[2].reason: HANDSHAKE_FAILURE_UNTRUSTED_CA is listed twice",
                    "tunnel_totals.server_streams[2].status: 700 is not an HTTP status (100-599, or 0 for any other)",
                    "tunnel_totals.server_streams[2].total: 18446744073709551614 is not a believable count");
            assertThat(client.refusals(bad)).containsExactlyElementsOf(problems);
            String metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.sum(metrics, "nodemesh_tunnel_connections_total")).isZero();
            assertThat(MetricsScrape.samples(metrics, "nodemesh_tunnel_pooled_connections")).isEmpty();
        }
    }
}
