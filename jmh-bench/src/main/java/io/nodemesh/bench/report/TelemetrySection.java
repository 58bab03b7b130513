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
        md.append("- Each run: one producer calls `TelemetryReporter.closed()` as the "
                + "data path does, keeping at most half the ").append(String.format(java.util.Locale.ROOT, "%,d", ReporterThroughput.CAPACITY))
                .append("-record buffer queued (the sustainable rate, not the rate of dropping); the reporter thread maps and "
                        + "serializes, gRPC carries batches over a Unix socket, the agent validates and aggregates into the Istio "
                        + "series. ").append(ReporterThroughput.WARMUP_SECONDS).append(" s warm-up, then ")
                .append(first.seconds()).append(" s measured; ").append(first.workloads()).append(" workloads. Two set-ups, "
                        + "alternating: the agent in the same JVM (`ReporterThroughput.measure`), and the agent in its own "
                        + "process started as `bin/nodemesh agent` starts it (`measureWithAgentProcess`; records "
                        + "counted by the agent's own `nodemesh_agent_records_received_total`, CPU of both processes). The "
                        + "target is judged on the second, the set-up of a node.\n\n");
        md.append("| run | set-up | host load average (1 min, at the end) | records/s | cores busy | records per CPU-second | dropped |\n");
        md.append("|---:|---|---:|---:|---:|---:|---:|\n");
        int i = 1;
        for (ReporterThroughput.Result r : runs) {
            md.append(String.format(java.util.Locale.ROOT, "| %d | %s | %.1f | %,.0f | %.2f | %,.0f | %,d |%n", i++, r.setup(),
                    r.loadAverage(), r.recordsPerSecond(), r.coresBusy(), r.recordsPerCpuSecond(), r.dropped()));
        }
        List<ReporterThroughput.Result> judged = runs.stream()
                .filter(r -> r.setup().equals(ReporterThroughput.AGENT_PROCESS)).toList();
        if (judged.isEmpty()) {
            judged = runs;
        }
        double median = median(judged);
        md.append(String.format(java.util.Locale.ROOT, "%nTarget: issue 3, ≥ %,.0f records/s (median of %d run%s, %s): **%s** (median %,.0f records/s)%n",
                TARGET, judged.size(), judged.size() == 1 ? "" : "s", judged.getFirst().setup(),
                median >= TARGET ? "met" : "not met", median));
        return md.toString();
    }

    /** The median records/s (the mean of the two middle runs for an even count). */
    static double median(List<ReporterThroughput.Result> runs) {
        double[] v = runs.stream().mapToDouble(ReporterThroughput.Result::recordsPerSecond).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

}
