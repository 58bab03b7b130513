package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.Outcome;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link TelemetryAgent#startHosted}: the agent a proxy hosts takes batches through {@link ReportIntake} sessions, the
 * same validation and aggregation as on the socket, and opens no socket.
 */
class HostedAgentTest {

    @TempDir
    Path dir;

    private TelemetryAgent hosted(int maxActiveStreams) throws Exception {
        return TelemetryAgent.startHosted(AgentConfig.builder()
                .socketPath(dir.resolve("t.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                .maxActiveStreams(maxActiveStreams)
                .build());
    }

    @Test
    void aSessionsBatchesAreAggregatedAndServedWithoutASocket() throws Exception {
        try (TelemetryAgent agent = hosted(4)) {
            assertThat(agent.socketPath()).isNull();
            assertThat(dir.resolve("t.sock")).doesNotExist();
            ReportIntake.Session session = agent.intake().open();
            assertThat(session.accept(ReportClient.batch()
                    .addConnections(ReportClient.connection("productpage", 100, 200, Outcome.OUTCOME_OK))
                    .addConnections(ReportClient.connection("productpage", 10, 20, Outcome.OUTCOME_OK)).build()))
                    .isNull();
            assertThat(session.acceptedRecords()).isEqualTo(2);
            assertThat(session.acceptedBatches()).isEqualTo(1);
            String scrape = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.sum(scrape, "istio_tcp_connections_closed_total",
                    "source_workload=\"productpage\"")).isEqualTo(2);
            // Istio's sent bytes are the response's: what came back to the source (bytes_received).
            assertThat(MetricsScrape.sum(scrape, "istio_tcp_sent_bytes_total", "source_workload=\"productpage\""))
                    .isEqualTo(220);
            assertThat(MetricsScrape.sum(scrape, "nodemesh_agent_active_streams")).isEqualTo(1);
            session.finish();
            assertThat(MetricsScrape.sum(MetricsScrape.fetch(agent.metricsAddress()), "nodemesh_agent_active_streams"))
                    .isZero();
        }
    }

    @Test
    void aBadBatchEndsItsSessionSayingWhyAndIsCountedAsRejected() throws Exception {
        try (TelemetryAgent agent = hosted(4)) {
            ReportIntake.Session session = agent.intake().open();
            ReportIntake.Refusal refused = session.accept(ReportClient.batch().setProtocolVersion(99)
                    .addConnections(ReportClient.connection("x", 1, 1, Outcome.OUTCOME_OK)).build());
            assertThat(refused).isNotNull();
            assertThat(refused.agentFault()).isFalse();
            assertThat(refused.message()).contains("99");
            assertThat(session.finished()).isTrue();
            assertThat(session.accept(ReportClient.batch()
                    .addConnections(ReportClient.connection("y", 1, 1, Outcome.OUTCOME_OK)).build()).message())
                    .isEqualTo("the report stream has ended");
            String scrape = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.sum(scrape, "nodemesh_agent_batches_rejected_total", "reason=\"version\"")).isEqualTo(1);
            assertThat(MetricsScrape.sum(scrape, "istio_tcp_connections_closed_total")).isZero();
            assertThat(MetricsScrape.sum(scrape, "nodemesh_agent_active_streams")).isZero();
        }
    }

    @Test
    void sessionsBeyondTheLimitAreRefusedUntilOneEnds() throws Exception {
        try (TelemetryAgent agent = hosted(1)) {
            ReportIntake.Session first = agent.intake().open();
            assertThat(first).isNotNull();
            assertThat(agent.intake().open()).isNull();
            assertThat(MetricsScrape.sum(MetricsScrape.fetch(agent.metricsAddress()), "nodemesh_agent_batches_rejected_total",
                    "reason=\"too_many_streams\"")).isEqualTo(1);
            first.finish();
            first.finish(); // once only
            assertThat(agent.intake().open()).isNotNull();
        }
    }
}
