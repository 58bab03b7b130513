package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.telemetry.ReportTransport;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.ReportBatch;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link HostedAgentTransport}: the reporter's streams as sessions of a hosted agent. A stream the agent refuses (too
 * many, a bad batch) is broken with the agent's reason, as on the socket, so the reporter opens another.
 */
class HostedAgentTransportTest {

    @TempDir
    Path dir;

    private TelemetryAgent hosted() throws Exception {
        return TelemetryAgent.startHosted(AgentConfig.builder().socketPath(dir.resolve("t.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).maxActiveStreams(1).build());
    }

    private static ReportBatch batch(int version) {
        return ReportBatch.newBuilder().setProtocolVersion(version).setReporterId("r").setNode("n").build();
    }

    @Test
    void aStreamIsASessionEndedByFinishAndASecondOneIsRefusedMeanwhile() throws Exception {
        try (TelemetryAgent agent = hosted()) {
            ReportTransport transport = new HostedAgentTransport(agent.intake());
            ReportTransport.Stream stream = transport.open(Thread.currentThread());
            assertThat(stream.awaitReady(0)).isTrue();
            stream.send(batch(1));
            assertThat(stream.broken()).isFalse();
            String scrape = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.sum(scrape, "nodemesh_agent_batches_received_total")).isEqualTo(1);
            assertThat(MetricsScrape.sum(scrape, "nodemesh_agent_active_streams")).isEqualTo(1);

            ReportTransport.Stream second = transport.open(Thread.currentThread());
            assertThat(second.broken()).isTrue();
            assertThat(second.awaitReady(0)).isFalse();
            assertThat(second.failure()).isEqualTo("the agent already has 1 report streams open");
            second.cancel("refused"); // nothing to end: no session

            stream.finish(0);
            assertThat(stream.broken()).isTrue();
            assertThat(MetricsScrape.sum(MetricsScrape.fetch(agent.metricsAddress()), "nodemesh_agent_active_streams"))
                    .isZero();
            assertThat(transport.open(Thread.currentThread()).broken()).as("the session was given back").isFalse();
        }
    }

    @Test
    void aBatchTheAgentRefusesBreaksTheStreamWithItsReason() throws Exception {
        try (TelemetryAgent agent = hosted()) {
            ReportTransport transport = new HostedAgentTransport(agent.intake());
            ReportTransport.Stream stream = transport.open(Thread.currentThread());
            stream.send(batch(7));
            assertThat(stream.broken()).isTrue();
            assertThat(stream.failure()).contains("7");
            stream.send(batch(1)); // after the break: not taken
            String scrape = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.sum(scrape, "nodemesh_agent_batches_received_total")).isZero();
            assertThat(MetricsScrape.sum(scrape, "nodemesh_agent_active_streams")).isZero();
            assertThat(transport.open(Thread.currentThread()).broken()).isFalse();
        }
    }
}
