package io.nodemesh.bench.report;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.openjdk.jmh.util.ScoreFormatter;

/** Renders the {@code micro} section: one table of every JMH result, with the options and skips that produced it. */
public final class MicroSection {

    /** The section's marker name. */
    public static final String NAME = "micro";

    private MicroSection() {
    }

    /**
     * The section body.
     *
     * @param rows the results, in JMH's order
     * @param skipped benchmark classes not run → why
     * @param rawFiles the raw JMH outputs, relative to the results file
     */
    public static String render(RunStamp stamp, List<MicroRow> rows, Map<String, String> skipped, List<String> rawFiles) {
        StringBuilder md = new StringBuilder();
        md.append("## JMH micro-benchmarks\n\n");
        md.append(stamp.header());
        // Group benchmarks by the settings they ran with: annotations give one set, --quick overrides them all.
        Map<String, List<String>> bySettings = new LinkedHashMap<>();
        for (MicroRow r : rows) {
            String cls = r.benchmark().substring(0, Math.max(0, r.benchmark().indexOf('.')));
            List<String> classes = bySettings.computeIfAbsent(r.settings(), k -> new java.util.ArrayList<>());
            if (!classes.contains(cls)) {
                classes.add(cls);
            }
        }
        if (bySettings.size() == 1) {
            md.append("- JMH options: ").append(bySettings.keySet().iterator().next()).append(", profiler `gc`\n");
        } else {
            bySettings.forEach((s, classes) -> md.append("- JMH options for ").append(String.join(", ", classes))
                    .append(": ").append(s).append(", profiler `gc`\n"));
        }
        skipped.forEach((cls, why) -> md.append("- not run: ").append(cls).append(" (").append(why).append(")\n"));
        if (!rawFiles.isEmpty()) {
            md.append("- JMH's own output: ").append(rawFiles.stream().map(f -> "[`" + f + "`](" + f + ")")
                    .collect(Collectors.joining(", "))).append("\n");
        }
        md.append("\n`allocated` is `gc.alloc.rate.norm`: bytes allocated per operation by the whole JVM (every thread),"
                + " which does not depend on the machine's load; times do.\n\n");
        md.append("| benchmark | params | score ± error | unit | allocated per op | other results |\n");
        md.append("|---|---|---:|---|---:|---|\n");
        for (MicroRow r : rows) {
            md.append("| ").append(r.benchmark())
                    .append(" | ").append(r.params().isEmpty() ? "—" : r.params())
                    .append(" | ").append(withError(r.score(), r.error()))
                    .append(" | ").append(r.unit())
                    .append(" | ").append(Double.isNaN(r.allocNorm()) ? "—" : withError(r.allocNorm(), r.allocError()) + " B")
                    .append(" | ").append(r.others().isEmpty() ? "—" : r.others().entrySet().stream()
                            .map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining("; ")))
                    .append(" |\n");
        }
        return md.toString();
    }

    /** A score as JMH prints it (a few significant digits; {@code ≈ 10⁻⁴} for tiny ones). */
    static String number(double v) {
        return Double.isNaN(v) ? "NaN" : ScoreFormatter.format(v).trim();
    }

    static String withError(double score, double error) {
        return Double.isNaN(error) ? number(score) : number(score) + " ± " + ScoreFormatter.formatError(error).trim();
    }
}
