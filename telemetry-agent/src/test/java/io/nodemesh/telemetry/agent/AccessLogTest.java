package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.Side;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One JSON line per connection, no more than the rate limit allows. */
final class AccessLogTest {

    @TempDir
    Path dir;

    @Test
    void writesJsonLinesUpToTheRateLimitAndCountsTheRest() throws Exception {
        Path log = dir.resolve("access.log");
        try (TelemetryAgent agent = TelemetryAgent.start(AgentConfig.builder()
                        .socketPath(dir.resolve("t.sock"))
                        .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                        .accessLog(log.toString())
                        .accessLogLinesPerSecond(10)
                        .build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            ReportBatch.Builder batch = ReportClient.batch();
            // Openings come first: they make no line (one line per connection, when it is finished).
            for (int i = 0; i < 50; i++) {
                batch.addConnections(ReportClient.opened("opening" + i));
            }
            for (int i = 0; i < 200; i++) {
                batch.addConnections(ReportClient.connection("w" + i, i, 2L * i,
                        i == 0 ? Outcome.OUTCOME_REFUSED : Outcome.OUTCOME_OK));
            }
            client.send(batch.build());

            List<String> lines = Files.readAllLines(log);
            // The bucket starts with one second of burst (10); refill during the test adds a few at most.
            assertThat(lines.size()).isBetween(10, 50);
            assertThat(lines.size() + agent.selfMetrics().accessLogSuppressed()).isEqualTo(200);

            JsonNode first = new ObjectMapper().readTree(lines.get(0));
            assertThat(first.get("source_workload").asText()).isEqualTo("w0");
            assertThat(first.get("destination_service").asText()).isEqualTo("reviews.b.svc.cluster.local");
            assertThat(first.get("source_address").asText()).isEqualTo("10.77.0.2:40000");
            assertThat(first.get("destination_address").asText()).isEqualTo("10.77.0.3:9080");
            assertThat(first.get("response_flags").asText()).isEqualTo("UF");
            assertThat(first.get("outcome").asText()).isEqualTo("REFUSED");
            assertThat(first.get("reporter").asText()).isEqualTo("source");
            JsonNode second = new ObjectMapper().readTree(lines.get(1));
            assertThat(second.get("bytes_sent").asLong()).isEqualTo(1);
            assertThat(second.get("bytes_received").asLong()).isEqualTo(2);
        }
    }

    @Test
    void aLineSaysWhichSideEndedAConnectionAndItsFlagsFollow() throws Exception {
        Path log = dir.resolve("sides.log");
        try (TelemetryAgent agent = agentLoggingTo(log, "s.sock");
                ReportClient client = new ReportClient(agent.socketPath())) {
            client.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("a", 1, 2, Outcome.OUTCOME_RESET)
                            .setEndedBy(Side.SIDE_DOWNSTREAM))
                    .addConnections(ReportClient.connection("b", 1, 2, Outcome.OUTCOME_PEER_LOST)
                            .setEndedBy(Side.SIDE_UPSTREAM))
                    .addConnections(ReportClient.connection("c", 1, 2, Outcome.OUTCOME_OK))
                    .build());

            List<String> lines = Files.readAllLines(log);
            assertThat(lines).hasSize(3);
            ObjectMapper json = new ObjectMapper();
            JsonNode reset = json.readTree(lines.get(0));
            assertThat(reset.get("outcome").asText()).isEqualTo("RESET");
            assertThat(reset.get("ended_by").asText()).isEqualTo("downstream");
            assertThat(reset.get("response_flags").asText()).isEqualTo("DR");
            JsonNode lost = json.readTree(lines.get(1));
            assertThat(lost.get("outcome").asText()).isEqualTo("PEER_LOST");
            assertThat(lost.get("ended_by").asText()).isEqualTo("upstream");
            assertThat(lost.get("response_flags").asText()).isEqualTo("UC");
            assertThat(json.readTree(lines.get(2)).has("ended_by")).as("nobody's failure").isFalse();
        }
    }

    /** What this version's reporter sends: the addresses as flat fields, IPv4 and IPv6; an older reporter's nested ones above.
    @Test
    void writesTheFlatAddressesOfBothFamilies() throws Exception {
        Path log = dir.resolve("flat.log");
        try (TelemetryAgent agent = agentLoggingTo(log, "f.sock");
                ReportClient client = new ReportClient(agent.socketPath())) {
            client.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("v4", 1, 2, Outcome.OUTCOME_OK)
                            .clearSourceAddress().clearDestinationAddress()
                            .setSourceIpv4(0x0a4d0002).setSourcePort(40_000).setDestinationIpv4(0x0a4d0003))
                    .addConnections(ReportClient.connection("v6", 1, 2, Outcome.OUTCOME_OK)
                            .clearSourceAddress().clearDestinationAddress()
                            .setSourceIpv6High(0xfd77_0000_0000_0000L).setSourceIpv6Low(2).setSourcePort(40_001)
                            .setDestinationIpv6High(0xfd77_0000_0000_0000L).setDestinationIpv6Low(3))
                    .build());

            List<String> lines = Files.readAllLines(log);
            assertThat(lines).hasSize(2);
            JsonNode v4 = new ObjectMapper().readTree(lines.get(0));
            assertThat(v4.get("source_address").asText()).isEqualTo("10.77.0.2:40000");
            assertThat(v4.get("destination_address").asText()).isEqualTo("10.77.0.3:9080");
            JsonNode v6 = new ObjectMapper().readTree(lines.get(1));
            assertThat(v6.get("source_address").asText()).isEqualTo("[fd77:0:0:0:0:0:0:2]:40001");
            assertThat(v6.get("destination_address").asText()).isEqualTo("[fd77:0:0:0:0:0:0:3]:9080");
        }
    }

    @Test
    void resolvesWorkloadsAndServicesReferencedThroughTheBatchTables() throws Exception {
        Path log = dir.resolve("refs.log");
        try (TelemetryAgent agent = agentLoggingTo(log, "r.sock");
                ReportClient client = new ReportClient(agent.socketPath())) {
            ReportBatch batch = ReportClient.batch()
                    .addWorkloads(io.nodemesh.telemetry.v1.Workload.newBuilder().setName("web").setNamespace("shop"))
                    .addWorkloads(io.nodemesh.telemetry.v1.Workload.newBuilder().setName("db").setNamespace("data"))
                    .addServices("db.data.svc.cluster.local")
                    .addConnections(ReportClient.connection("ignored", 3, 4, Outcome.OUTCOME_OK)
                            .clearSource().clearDestination().clearDestinationService()
                            .setSourceRef(1).setDestinationRef(2).setDestinationServiceRef(1))
                    .build();
            assertThat(client.send(batch).ack().getAcceptedRecords()).isEqualTo(1);
            JsonNode line = new ObjectMapper().readTree(Files.readAllLines(log).get(0));
            assertThat(line.get("source_workload").asText()).isEqualTo("web");
            assertThat(line.get("destination_namespace").asText()).isEqualTo("data");
            assertThat(line.get("destination_service").asText()).isEqualTo("db.data.svc.cluster.local");
            assertThat(MetricsScrape.value(MetricsScrape.fetch(agent.metricsAddress()), "istio_tcp_sent_bytes_total",
                    "source_workload=\"web\"", "destination_workload=\"db\"",
                    "destination_service=\"db.data.svc.cluster.local\"")).isEqualTo(4);
        }
    }

    /** A destination outside the mesh: the reporter sends no workload or service; the log says unknown, as the metrics do. */
    @Test
    void writesUnknownForWhatTheReporterDidNotKnow() throws Exception {
        Path log = dir.resolve("unknown.log");
        try (TelemetryAgent agent = agentLoggingTo(log, "u.sock");
                ReportClient client = new ReportClient(agent.socketPath())) {
            client.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("web", 1, 2, Outcome.OUTCOME_OK)
                            .clearDestination().clearDestinationService())
                    .build());

            JsonNode line = new ObjectMapper().readTree(Files.readAllLines(log).get(0));
            assertThat(line.get("source_workload").asText()).isEqualTo("web");
            assertThat(line.get("destination_workload").asText()).isEqualTo("unknown");
            assertThat(line.get("destination_namespace").asText()).isEqualTo("unknown");
            assertThat(line.get("destination_principal").asText()).isEqualTo("unknown");
            assertThat(line.get("destination_service").asText()).isEqualTo("unknown");
            assertThat(MetricsScrape.value(MetricsScrape.fetch(agent.metricsAddress()), "istio_tcp_sent_bytes_total",
                    "source_workload=\"web\"", "destination_workload=\"unknown\"",
                    "destination_service=\"unknown\"")).as("response bytes").isEqualTo(2);
        }
    }

    /** An agent on {@code socket} in the test's directory writing its access log (default rate limit) to {@code log}. */
    private TelemetryAgent agentLoggingTo(Path log, String socket) throws java.io.IOException {
        return TelemetryAgent.start(AgentConfig.builder()
                .socketPath(dir.resolve(socket))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                .accessLog(log.toString())
                .build());
    }
}
