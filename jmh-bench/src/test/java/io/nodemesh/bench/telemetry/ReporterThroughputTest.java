package io.nodemesh.bench.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The throughput benchmark's agent-in-its-own-process set-up delivers, counts on the agent's side, and cleans up. */
class ReporterThroughputTest {

    /** Built by the reactor's package phase before this module's tests ({@code mvn verify}, as bin/test runs it). */
    private static final Path JAR = Path.of("..", "cli", "target", "nodemesh.jar");

    @Test
    void theAgentInItsOwnProcessReceivesWhatTheReporterSends() throws Exception {
        assumeTrue(Files.isRegularFile(JAR), JAR + " is built by `mvn verify` (package) before these tests");
        long agentsBefore = agentProcesses();

        ReporterThroughput.Result r = ReporterThroughput.measureWithAgentProcess(1, 10, JAR);

        assertThat(r.setup()).isEqualTo(ReporterThroughput.AGENT_PROCESS);
        assertThat(r.records()).isPositive(); // the agent's own count, scraped from its /metrics
        assertThat(r.dropped()).isZero();
        assertThat(r.cpuNanos()).isPositive();
        assertThat(agentProcesses()).isEqualTo(agentsBefore); // the agent it started is gone
    }

    @Test
    void aMissingJarIsNamed() {
        assertThatThrownBy(() -> ReporterThroughput.measureWithAgentProcess(1, 10, Path.of("no", "such.jar")))
                .hasMessageContaining("no/such.jar is not there");
    }

    private static long agentProcesses() {
        return ProcessHandle.current().descendants()
                .filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains(" agent --socket")).orElse(false))
                .count();
    }
}
