package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportBatch;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** 100 000 distinct source workloads cannot grow the series beyond the limit. */
final class CardinalityTest {

    @TempDir
    Path dir;

    @Test
    void distinctLabelSetsBeyondTheLimitFoldIntoTheOverflowSeries() throws Exception {
        int limit = 1000;
        int workloads = 100_000;
        try (TelemetryAgent agent = TelemetryAgent.start(AgentConfig.builder()
                        .socketPath(dir.resolve("t.sock"))
                        .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                        .maxSeries(limit)
                        .build());
                ReportClient client = new ReportClient(agent.socketPath())) {
            List<ReportBatch> batches = new ArrayList<>();
            ReportBatch.Builder batch = ReportClient.batch();
            for (int i = 0; i < workloads; i++) {
                batch.addConnections(ReportClient.connection("w" + i, 10, 1, Outcome.OUTCOME_OK));
                if (batch.getConnectionsCount() == 5000) {
                    batches.add(batch.build());
                    batch = ReportClient.batch();
                }
            }
            ReportClient.Result result = client.send(batches);
            assertThat(result.status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(result.ack().getAcceptedRecords()).isEqualTo(workloads);

            int folded = workloads - (limit - 1);
            assertThat(agent.metrics().seriesCount()).isEqualTo(limit);
            assertThat(agent.metrics().overflowFolded()).isEqualTo(folded);

            String text = MetricsScrape.fetch(agent.metricsAddress());
            List<String> closed = MetricsScrape.samples(text, "istio_tcp_connections_closed_total");
            assertThat(closed).hasSize(limit);
            assertThat(MetricsScrape.value(text, "nodemesh_agent_series_overflow_total")).isEqualTo(folded);
            assertThat(MetricsScrape.value(text, "istio_tcp_connections_closed_total", "source_workload=\"overflow\"",
                    "reporter=\"overflow\"")).isEqualTo(folded);
            double total = closed.stream().mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
                    .sum();
            assertThat(total).isEqualTo(workloads);
            assertThat(MetricsScrape.value(text, "istio_tcp_received_bytes_total", "source_workload=\"overflow\""))
                    .isEqualTo(10.0 * folded);
        }
    }
}
