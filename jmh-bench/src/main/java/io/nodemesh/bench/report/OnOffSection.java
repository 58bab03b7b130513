package io.nodemesh.bench.report;

import io.nodemesh.bench.harness.MatrixOptions;
import io.nodemesh.bench.harness.MatrixReport;
import io.nodemesh.bench.harness.TelemetryOnOff;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The {@code telemetry-onoff} section (issue 3): the proxy with telemetry off and on, end to end under the matrix's
 * load, in several interleaved rounds of one run so the difference can be judged against the run's own noise.
 */
public final class OnOffSection {

    /** The section's marker name. */
    public static final String NAME = "telemetry-onoff";

    private OnOffSection() {
    }

    /**
     * The matrix set-up this part runs for direct, nodemesh, nodemesh-telemetry and nodemesh-again (the A/A control:
     * a second proxy with telemetry off): fixed rate at 2/16/64 connections,
     * wrk at 1/16/64, bulk on 1/8 streams, churn. The full run (3 rounds) measures 10 s per fixed-rate run after 2 s,
     * 5 s of wrk and 5 s of bulk and churn after 5 s, after 20 s of unmeasured churn per subject (as the full matrix),
     * so a few-percent difference is not lost in short windows or in the JIT's warm-up; {@code quick} (2 rounds) keeps
     * the developer matrix's short windows.
     */
    public static MatrixOptions options(boolean quick, Integer nice, Path out, String commandLine) {
        Duration latencyWarmup = Duration.ofSeconds(quick ? 1 : 2);
        Duration latency = Duration.ofSeconds(quick ? 3 : 10);
        Duration wrk = Duration.ofSeconds(quick ? 2 : 5);
        // 5 s before each measured bulk and churn run: after the keep-alive steps the telemetry subject's proxy and
        // agent JIT-compile their churn-rate paths again during the first churn seconds (per-thread CPU showed their
        // compiler threads at ~10 % of the core in round 1 and ~1 % in round 2), which is start-up, not steady state.
        Duration toolWarmup = quick ? Duration.ofMillis(500) : Duration.ofSeconds(5);
        Duration churnWarmup = Duration.ofSeconds(quick ? 5 : 20);
        Duration shortRun = Duration.ofSeconds(quick ? 2 : 5);
        return new MatrixOptions(List.of(2, 16, 64), 1000, 1024, latencyWarmup, latency, List.of(1, 16, 64), wrk,
                List.of(1, 8), 4, toolWarmup, churnWarmup, shortRun, quick ? 2 : 3,
                List.of("direct", TelemetryOnOff.OFF, TelemetryOnOff.ON, TelemetryOnOff.AGAIN), out, Path.of("cli", "target", "nodemesh.jar"),
                1, 0, nice == null ? 0 : nice, false, commandLine);
    }

    /** The section body for a finished run. */
    public static String render(RunStamp stamp, MatrixReport report) {
        StringBuilder md = new StringBuilder();
        md.append("## Telemetry on vs off, end to end (issue 3)\n\n");
        md.append(stamp.header());
        MatrixOptions o = report.options();
        md.append(String.format(java.util.Locale.ROOT, "- Load: the scenario matrix's harness (topology, pinning and tools as in "
                        + "the `matrix` section) for direct, nodemesh, nodemesh-telemetry and nodemesh-again (a second proxy with telemetry off, the A/A control) only: fixed rate %.0f requests/s at "
                        + "%s connections, wrk at %s connections, bulk on %s streams, churn on %d threads; %d rounds, the "
                        + "subjects' order alternating step by step and round by round; fixed-rate runs %d s after %d s of "
                        + "warm-up, wrk %d s, bulk and churn %d s after %d ms; %d s of unmeasured churn per subject before "
                        + "the first round\n\n",
                o.rate(), o.latencyConnections(), o.wrkConnections(), o.bulkStreams(), o.churnThreads(), o.rounds(),
                o.latencyDuration().toSeconds(), o.latencyWarmup().toSeconds(), o.wrkDuration().toSeconds(),
                o.shortDuration().toSeconds(), o.toolWarmup().toMillis(), o.churnWarmup().toSeconds()));
        StringBuilder table = new StringBuilder();
        TelemetryOnOff.table(table, report, "### Telemetry off (`nodemesh`) against on (`nodemesh-telemetry`)");
        if (table.isEmpty()) {
            throw new IllegalStateException("the run has no figures for both nodemesh and nodemesh-telemetry: "
                    + report.unavailable());
        }
        md.append(table);
        return md.toString();
    }
}
