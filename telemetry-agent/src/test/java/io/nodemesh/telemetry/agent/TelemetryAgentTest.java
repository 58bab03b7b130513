package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Status;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportBatch;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.net.http.HttpResponse;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent end to end over its real Unix socket and HTTP server. */
final class TelemetryAgentTest {

    @TempDir
    Path dir;

    private AgentConfig.Builder config() {
        return AgentConfig.builder()
                .socketPath(dir.resolve("telemetry.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0));
    }

    @Test
    void aggregatesBatchesIntoIstioSeries() throws Exception {
        try (TelemetryAgent agent = TelemetryAgent.start(config().build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            ReportBatch first = ReportClient.batch()
                    .addConnections(ReportClient.connection("productpage", 100, 1000, Outcome.OUTCOME_OK))
                    .addConnections(ReportClient.connection("productpage", 200, 2000, Outcome.OUTCOME_OK))
                    .addConnections(ReportClient.connection("productpage", 0, 0, Outcome.OUTCOME_REFUSED))
                    .build();
            ReportBatch second = ReportClient.batch()
                    .addConnections(ReportClient.connection("productpage", 5, 7, Outcome.OUTCOME_OK)
                            .setDirection(Direction.DIRECTION_INBOUND))
                    .build();
            ReportClient.Result result = client.send(List.of(first, second));
            assertThat(result.status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(result.ack().getAcceptedRecords()).isEqualTo(4);
            assertThat(result.ack().getAcceptedBatches()).isEqualTo(2);

            String text = MetricsScrape.fetch(agent.metricsAddress());
            String[] ok = {"reporter=\"source\"", "source_workload=\"productpage\"", "source_workload_namespace=\"a\"",
                "source_principal=\"spiffe://cluster.local/ns/a/sa/productpage\"", "destination_workload=\"reviews\"",
                "destination_workload_namespace=\"b\"", "destination_principal=\"spiffe://cluster.local/ns/b/sa/reviews\"",
                "destination_service=\"reviews.b.svc.cluster.local\"", "request_protocol=\"tcp\"",
                "response_flags=\"-\"", "connection_security_policy=\"none\""};
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_opened_total", ok)).isEqualTo(2);
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_closed_total", ok)).isEqualTo(2);
            assertThat(MetricsScrape.value(text, "istio_tcp_sent_bytes_total", ok)).isEqualTo(3000);
            assertThat(MetricsScrape.value(text, "istio_tcp_received_bytes_total", ok)).isEqualTo(300);
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_closed_total", "reporter=\"source\"",
                    "response_flags=\"UF\"")).isEqualTo(1);
            assertThat(MetricsScrape.value(text, "istio_tcp_sent_bytes_total", "response_flags=\"UF\"")).isZero();
            assertThat(MetricsScrape.value(text, "istio_tcp_sent_bytes_total", "reporter=\"destination\"")).isEqualTo(7);
            assertThat(MetricsScrape.value(text, "nodemesh_agent_records_received_total", "kind=\"connection\""))
                    .isEqualTo(4);
            assertThat(MetricsScrape.value(text, "nodemesh_agent_batches_received_total")).isEqualTo(2);
        }
    }

    @Test
    void openedRecordsCountAtOpenAndClosedRecordsDoNotCountThemTwice() throws Exception {
        try (TelemetryAgent agent = TelemetryAgent.start(config().build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            // Two connections open; nothing has closed yet.
            ReportBatch opening = ReportClient.batch()
                    .addConnections(ReportClient.opened("details"))
                    .addConnections(ReportClient.opened("details"))
                    .build();
            assertThat(client.send(opening).status().getCode()).isEqualTo(Status.Code.OK);
            String text = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_opened_total", "source_workload=\"details\"",
                    "response_flags=\"-\"")).isEqualTo(2);
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_closed_total", "source_workload=\"details\"")).isZero();

            // One of them closes (its open was reported); a third connection closes whose OPENED record the
            // reporter dropped (open_reported false): it counts as opened at close.
            ReportBatch closing = ReportClient.batch()
                    .addConnections(ReportClient.connection("details", 10, 20, Outcome.OUTCOME_OK).setOpenReported(true))
                    .addConnections(ReportClient.connection("details", 1, 2, Outcome.OUTCOME_OK))
                    .build();
            assertThat(client.send(closing).status().getCode()).isEqualTo(Status.Code.OK);
            text = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_opened_total", "source_workload=\"details\"")).isEqualTo(3);
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_closed_total", "source_workload=\"details\"")).isEqualTo(2);
            assertThat(MetricsScrape.value(text, "istio_tcp_sent_bytes_total", "source_workload=\"details\"")).isEqualTo(22);
        }
    }

    @Test
    void refusesOpenedRecordsThatCarryWhatOnlyACloseKnows() throws Exception {
        try (TelemetryAgent agent = TelemetryAgent.start(config().build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            ReportClient.Result bytes = client.send(ReportClient.batch()
                    .addConnections(ReportClient.opened("x").setBytesSent(5)).build());
            assertThat(bytes.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(bytes.status().getDescription()).startsWith("connections[0].bytes_sent");

            ReportClient.Result outcome = client.send(ReportClient.batch()
                    .addConnections(ReportClient.opened("x").setOutcome(Outcome.OUTCOME_OK)).build());
            assertThat(outcome.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(outcome.status().getDescription()).startsWith("connections[0].phase");

            ReportClient.Result phase = client.send(ReportClient.batch()
                    .addConnections(ReportClient.opened("x").setPhaseValue(7)).build());
            assertThat(phase.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(phase.status().getDescription()).isEqualTo("connections[0].phase: 7 is not a known connection phase");
        }
    }

    @Test
    void servesOpenMetricsWhenAskedAndPrometheusTextOtherwise() throws Exception {
        try (TelemetryAgent agent = TelemetryAgent.start(config().build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            client.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("ratings", 1, 2, Outcome.OUTCOME_OK)).build());
            HttpResponse<String> open = Scrape.get(agent.metricsAddress(), "/metrics",
                    "application/openmetrics-text; version=1.0.0; charset=utf-8");
            assertThat(open.statusCode()).isEqualTo(200);
            assertThat(open.headers().firstValue("Content-Type").orElseThrow())
                    .startsWith("application/openmetrics-text");
            assertThat(open.body()).endsWith("# EOF\n").contains("istio_tcp_sent_bytes_total{");

            HttpResponse<String> text = Scrape.get(agent.metricsAddress(), "/metrics", null);
            assertThat(text.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/plain; version=0.0.4");
            assertThat(text.body()).doesNotContain("# EOF");
        }
    }

    @Test
    void servesHealthAndTopPairs() throws Exception {
        try (TelemetryAgent agent = TelemetryAgent.start(config().build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            client.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("small", 10, 10, Outcome.OUTCOME_OK))
                    .addConnections(ReportClient.connection("big", 5000, 5000, Outcome.OUTCOME_OK))
                    .addConnections(ReportClient.connection("big", 0, 0, Outcome.OUTCOME_RESET))
                    // The same connection seen by the destination's proxy must not be counted twice.
                    .addConnections(ReportClient.connection("big", 5000, 5000, Outcome.OUTCOME_OK)
                            .setDirection(Direction.DIRECTION_INBOUND))
                    .build());
            assertThat(Scrape.get(agent.metricsAddress(), "/healthz", null).body()).isEqualTo("ok\n");

            HttpResponse<String> top = Scrape.get(agent.metricsAddress(), "/top?n=1", null);
            assertThat(top.statusCode()).isEqualTo(200);
            JsonNode pairs = new ObjectMapper().readTree(top.body()).get("pairs");
            assertThat(pairs).hasSize(1);
            JsonNode busiest = pairs.get(0);
            assertThat(busiest.get("source_workload").asText()).isEqualTo("big");
            assertThat(busiest.get("destination_workload").asText()).isEqualTo("reviews");
            assertThat(busiest.get("bytes_sent").asLong()).isEqualTo(5000);
            assertThat(busiest.get("connections").asLong()).isEqualTo(2);
            assertThat(busiest.get("errors").asLong()).isEqualTo(1);

            assertThat(Scrape.get(agent.metricsAddress(), "/top?n=zero", null).statusCode()).isEqualTo(400);
            assertThat(Scrape.get(agent.metricsAddress(), "/nope", null).statusCode()).isEqualTo(404);
        }
    }

    @Test
    void socketIsGroupOnlyAndRemovedOnClose() throws Exception {
        Path socket;
        try (TelemetryAgent agent = TelemetryAgent.start(config().build())) {
            socket = agent.socketPath();
            assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(socket))).isEqualTo("rw-rw----");
        }
        assertThat(socket).doesNotExist();
    }

    @Test
    void replacesAStaleSocketButNotALiveOneOrARegularFile() throws Exception {
        Path socket = dir.resolve("telemetry.sock");
        // A socket file whose listener is gone, as a crashed agent leaves it.
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(socket));
        }
        assertThat(socket).exists();
        try (TelemetryAgent agent = TelemetryAgent.start(config().build());
                ReportClient client = new ReportClient(socket)) {
            assertThat(client.send(ReportClient.batch().build()).status().getCode()).isEqualTo(Status.Code.OK);
            assertThatThrownBy(() -> TelemetryAgent.start(config().build()))
                    .isInstanceOf(IOException.class).hasMessageContaining("already listening on " + socket);
        }
        Files.writeString(socket, "not a socket");
        assertThatThrownBy(() -> TelemetryAgent.start(config().build()))
                .isInstanceOf(IOException.class).hasMessageContaining("is not a socket");
        assertThat(Files.readString(socket)).isEqualTo("not a socket");
    }

    @Test
    void refusesPeersWhoseUidIsNotAllowed() throws Exception {
        // This test runs as some uid; allow only a different one.
        int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        try (TelemetryAgent agent = TelemetryAgent.start(config().allowedPeerUids(Set.of(me + 4242)).build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            ReportClient.Result result = client.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("x", 1, 1, Outcome.OUTCOME_OK)).build());
            assertThat(result.status().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            assertThat(agent.selfMetrics().peersRejected()).isPositive();
            assertThat(agent.selfMetrics().recordsReceived()).isZero();
        }
    }
}
