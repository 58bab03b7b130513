package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's own log lines, as an operator reads them in the journal (slf4j-simple writes to stderr). */
class AgentLogTest {

    @TempDir
    Path dir;

    @Test
    void logsWhereItListensAsAnAddressOneCanTypeAndWhenAndWhyItStops() throws Exception {
        PrintStream original = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int port;
        try {
            TelemetryAgent agent = TelemetryAgent.start(AgentConfig.builder().socketPath(dir.resolve("t.sock"))
                    .metricsAddress(new InetSocketAddress("0.0.0.0", 0)).build());
            port = agent.metricsAddress().getPort();
            agent.stop("shutdown signal: SIGTERM, SIGINT or SIGHUP");
            agent.close(); // once is enough
        } finally {
            System.setErr(original);
        }
        String log = err.toString(StandardCharsets.UTF_8);
        assertThat(log).containsPattern("metrics on http://(\\[::]|0\\.0\\.0\\.0):" + port + "/metrics")
                .doesNotContain("0:0:0:0:0:0:0:0");
        assertThat(log).contains("telemetry agent stopped (shutdown signal: SIGTERM, SIGINT or SIGHUP)");
        assertThat(log.split("telemetry agent stopped", -1)).hasSize(2);
    }
}
