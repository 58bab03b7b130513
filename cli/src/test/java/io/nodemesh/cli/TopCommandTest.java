package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.OpenedConnection;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.proxy.telemetry.WorkloadLookup;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code nodemesh top} against a real agent fed by a real reporter. */
final class TopCommandTest {

    @TempDir
    Path dir;

    private static ClosedConnection conn(String pod, String ns, String peerIp, long sent, Outcome outcome) {
        return new ClosedConnection(new OpenedConnection(Direction.OUTBOUND, ns, pod, pod + "-sa",
                new InetSocketAddress("10.77.0.2", 40000), new InetSocketAddress(peerIp, 80), System.currentTimeMillis()),
                sent, sent / 2, 1_000_000, outcome);
    }

    @Test
    void printsTheBusiestPairsFirst() throws Exception {
        Path socket = dir.resolve("t.sock");
        try (TelemetryAgent agent = TelemetryAgent.start(AgentConfig.builder().socketPath(socket)
                        .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build());
                TelemetryReporter reporter = TelemetryReporter.start(ReporterConfig.builder().socketPath(socket)
                        .flushInterval(Duration.ofMillis(50)).build(), WorkloadLookup.NONE)) {
            for (int i = 0; i < 3; i++) {
                reporter.closed(conn("quiet", "a", "10.77.0.5", 10, Outcome.OK));
            }
            reporter.closed(conn("busy", "b", "10.77.0.6", 1_000_000, Outcome.OK));
            reporter.closed(conn("busy", "b", "10.77.0.6", 0, Outcome.REFUSED));
            long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
            while (agent.selfMetrics().recordsReceived() < 5 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }

            StringWriter out = new StringWriter();
            int exit = new CommandLine(new TopCommand()).setOut(new PrintWriter(out))
                    .execute("--metrics-address", "127.0.0.1:" + agent.metricsAddress().getPort(), "-n", "5");
            assertThat(exit).isZero();
            List<String> lines = out.toString().lines().toList();
            assertThat(lines).hasSize(3);
            assertThat(lines.get(0)).startsWith("SOURCE").contains("BYTES OUT", "BYTES BACK", "CONNECTIONS", "ERRORS");
            assertThat(lines.get(1)).matches("busy\\.b\\s+unknown\\s+unknown\\s+977 KiB\\s+488 KiB\\s+2\\s+1");
            assertThat(lines.get(2)).matches("quiet\\.a\\s+unknown\\s+unknown\\s+30 B\\s+15 B\\s+3\\s+0");
        }
    }

    @Test
    void saysSoWhenNoAgentListens() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        StringWriter err = new StringWriter();
        int exit = new CommandLine(new TopCommand()).setErr(new PrintWriter(err))
                .execute("--metrics-address", "127.0.0.1:" + port);
        assertThat(exit).isEqualTo(1);
        assertThat(err.toString()).contains("cannot reach the telemetry agent at http://127.0.0.1:" + port);
    }
}
