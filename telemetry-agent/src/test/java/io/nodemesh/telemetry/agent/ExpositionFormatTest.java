package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.RequestRecord;
import io.nodemesh.telemetry.v1.Workload;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The /metrics output checked by Prometheus's own parsers through promtool (from Debian's package
 * {@code prometheus}, see {@link #promtool()}); skipped with a reason when there is none. client_java 1.10
 * has no parser of its own.
 */
final class ExpositionFormatTest {

    /** The one lint finding we accept: Istio's standard metric name is in milliseconds. */
    private static final String ISTIO_NAME_LINT =
            "istio_request_duration_milliseconds use base unit \"seconds\" instead of \"milliseconds\"";

    @TempDir
    Path dir;

    /**
     * The promtool bin/test provides (NODEMESH_PROMTOOL: taken out of Debian's prometheus package into the
     * repository's .cache/promtool, so no Prometheus server is installed), else one installed on the machine.
     */
    private static Path promtool() {
        List<String> candidates = new java.util.ArrayList<>();
        String provided = System.getenv("NODEMESH_PROMTOOL");
        if (provided != null && !provided.isEmpty()) {
            candidates.add(provided);
        }
        // Surefire runs in the module's directory; the cache is at the repository's root.
        candidates.addAll(List.of("../.cache/promtool/promtool", "/usr/bin/promtool", "/usr/local/bin/promtool"));
        for (String candidate : candidates) {
            if (Files.isExecutable(Path.of(candidate))) {
                return Path.of(candidate).toAbsolutePath();
            }
        }
        return null;
    }

    private TelemetryAgent agentWithData() throws Exception {
        TelemetryAgent agent = TelemetryAgent.start(AgentConfig.builder()
                .socketPath(dir.resolve("t.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                .build());
        try (ReportClient client = new ReportClient(agent.socketPath())) {
            client.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("a\"quoted\\name", 1, 2, Outcome.OUTCOME_OK))
                    .addConnections(ReportClient.connection("ümlaut", 3, 4, Outcome.OUTCOME_CONNECT_TIMEOUT))
                    .addRequests(RequestRecord.newBuilder().setDirection(Direction.DIRECTION_INBOUND)
                            .setSource(Workload.newBuilder().setName("web").setNamespace("a"))
                            .setDestination(Workload.newBuilder().setName("api").setNamespace("b"))
                            .setProtocol("http").setMethod("GET").setResponseCode(200)
                            .setDurationNanos(12_000_000).setStartedAtEpochMillis(System.currentTimeMillis()))
                    .build());
        }
        return agent;
    }

    @Test
    void prometheusTextPassesPromtoolCheckMetrics() throws Exception {
        Path promtool = promtool();
        requirePromtool(promtool);
        try (TelemetryAgent agent = agentWithData()) {
            String text = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(text).contains("istio_request_duration_milliseconds_bucket{");
            Run run = run(List.of(promtool.toString(), "check", "metrics"), text);
            // 0: clean, 3: lint findings only, 1: the parser failed.
            assertThat(run.exit).as(run.output).isIn(0, 3);
            for (String finding : run.output.strip().lines().toList()) {
                assertThat(finding).as("promtool finding").isEqualTo(ISTIO_NAME_LINT);
            }
        }
    }

    @Test
    void openMetricsPassesPromtoolsOpenMetricsParser() throws Exception {
        Path promtool = promtool();
        requirePromtool(promtool);
        try (TelemetryAgent agent = agentWithData()) {
            String body = Scrape.get(agent.metricsAddress(), "/metrics",
                    "application/openmetrics-text; version=1.0.0").body();
            // promtool's OpenMetrics importer (a strict parser) wants a timestamp on every sample;
            // add one, leave everything else exactly as served.
            StringBuilder stamped = new StringBuilder();
            for (String line : body.split("\n", -1)) {
                if (!line.isEmpty() && !line.startsWith("#")) {
                    line = line + " 1700000000";
                }
                stamped.append(line).append('\n');
            }
            Path file = dir.resolve("om.txt");
            Files.writeString(file, stamped.toString().stripTrailing() + "\n");
            Run run = run(List.of(promtool.toString(), "tsdb", "create-blocks-from", "openmetrics", file.toString(),
                    dir.resolve("blocks").toString()), "");
            assertThat(run.exit).as(run.output).isZero();
            long samples = body.lines().filter(l -> !l.startsWith("#") && !l.isEmpty()).count();
            assertThat(run.output).contains(" " + samples + " "); // NUM SAMPLES column
        }
    }

    /** Skips without promtool, except where the suite must run everything (CI sets NODEMESH_REQUIRE_NETNS=1). */
    private static void requirePromtool(Path promtool) {
        if (promtool == null && "1".equals(System.getenv("NODEMESH_REQUIRE_NETNS"))) {
            throw new AssertionError("promtool is required here (bin/test fetches it into .cache/promtool)");
        }
        assumeTrue(promtool != null, "no promtool (bin/test fetches it into .cache/promtool; or set NODEMESH_PROMTOOL)");
    }

    private record Run(int exit, String output) {
    }

    private static Run run(List<String> command, String stdin) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        process.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        process.getOutputStream().close();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("promtool did not finish: " + command);
        }
        return new Run(process.exitValue(), output);
    }

}
