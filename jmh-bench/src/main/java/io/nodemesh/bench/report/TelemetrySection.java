package io.nodemesh.bench.report;

import io.nodemesh.bench.telemetry.ReporterThroughput;
import java.util.List;

/** Renders the {@code telemetry-throughput} section: records per second reporter → agent, per run, against issue 3's target. */
public final class TelemetrySection {

    /** The section's marker name. */
    public static final String NAME = "telemetry-throughput";

    /** Issue 3's target, records per second. */
    public static final double TARGET = 1_000_000;

    private TelemetrySection() {
    }

    /** The section body for {@code runs} (at least one). */
    public static String render(RunStamp stamp, List<ReporterThroughput.Result> runs) {
        if (runs.isEmpty()) {
            throw new IllegalArgumentException("no telemetry runs to report");
        }
        ReporterThroughput.Result first = runs.getFirst();
        StringBuilder md = new StringBuilder();
        md.append("## Telemetry: records per second, reporter → agent (issue 3)\n\n");
        md.append(stamp.header());
        md.append("- Each run: `ReporterThroughput.measure` in one JVM — one producer calls `TelemetryReporter.closed()` as the "
                + "data path does, keeping at most half the ").append(String.format(java.util.Locale.ROOT, "%,d", ReporterThroughput.CAPACITY))
                .append("-record buffer in flight (the sustainable rate, not the rate of dropping); the reporter thread maps and "
                        + "serializes, gRPC carries batches over a Unix socket, the agent validates and aggregates into the Istio "
                        + "series. ").append(ReporterThroughput.WARMUP_SECONDS).append(" s warm-up, then ")
                .append(first.seconds()).append(" s measured; ").append(first.workloads()).append(" workloads\n\n");
        md.append("| run | host load average (1 min, at the end) | records/s | cores busy | records per CPU-second | dropped |\n");
        md.append("|---:|---:|---:|---:|---:|---:|\n");
        int i = 1;
        for (ReporterThroughput.Result r : runs) {
            md.append(String.format(java.util.Locale.ROOT, "| %d | %.1f | %,.0f | %.2f | %,.0f | %,d |%n", i++, r.loadAverage(), r.recordsPerSecond(),
                    r.coresBusy(), r.recordsPerCpuSecond(), r.dropped()));
        }
        double median = median(runs);
        md.append(String.format(java.util.Locale.ROOT, "%nTarget: issue 3, ≥ %,.0f records/s (median of %d run%s): **%s** (median %,.0f records/s)%n",
                TARGET, runs.size(), runs.size() == 1 ? "" : "s", median >= TARGET ? "met" : "not met", median));
        return md.toString();
    }

    /** The median records/s (the mean of the two middle runs for an even count). */
    static double median(List<ReporterThroughput.Result> runs) {
        double[] v = runs.stream().mapToDouble(ReporterThroughput.Result::recordsPerSecond).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

}
