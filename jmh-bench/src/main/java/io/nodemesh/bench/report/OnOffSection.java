package io.nodemesh.bench.report;

import io.nodemesh.proxy.bench.MatrixOptions;
import io.nodemesh.proxy.bench.MatrixReport;
import io.nodemesh.proxy.bench.TelemetryOnOff;
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
     * The matrix set-up this part runs: the developer matrix's load points (fixed rate at 2/16/64 connections, wrk at
     * 1/16/64, bulk on 1/8 streams, churn) for direct, nodemesh and nodemesh-telemetry, in {@code rounds} rounds.
     */
    public static MatrixOptions options(int rounds, Integer nice, Path out, String commandLine) {
        return new MatrixOptions(List.of(2, 16, 64), 1000, 1024, Duration.ofSeconds(1), Duration.ofSeconds(3),
                List.of(1, 16, 64), Duration.ofSeconds(2), List.of(1, 8), 4, Duration.ofMillis(500), Duration.ofSeconds(5),
                Duration.ofSeconds(2), rounds, List.of("direct", TelemetryOnOff.OFF, TelemetryOnOff.ON), out,
                Path.of("node-proxy", "target", "nodemesh.jar"), 1, 0, nice == null ? 0 : nice, false, commandLine);
    }

    /** The section body for a finished run. */
    public static String render(RunStamp stamp, MatrixReport report) {
        StringBuilder md = new StringBuilder();
        md.append("## Telemetry on vs off, end to end (issue 3)\n\n");
        md.append(stamp.header());
        MatrixOptions o = report.options();
        md.append(String.format(java.util.Locale.ROOT, "- Load: the scenario matrix's harness (topology, pinning and tools as in "
                        + "the `matrix` section) for direct, nodemesh and nodemesh-telemetry only: fixed rate %.0f requests/s at "
                        + "%s connections, wrk at %s connections, bulk on %s streams, churn on %d threads; %d rounds, the "
                        + "subjects' order alternating step by step and round by round\n\n",
                o.rate(), o.latencyConnections(), o.wrkConnections(), o.bulkStreams(), o.churnThreads(), o.rounds()));
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
