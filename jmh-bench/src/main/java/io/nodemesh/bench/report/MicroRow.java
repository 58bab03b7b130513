package io.nodemesh.bench.report;

import java.util.Map;
import java.util.stream.Collectors;
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;

/**
 * One JMH result as the micro section shows it.
 *
 * @param benchmark {@code Class.method}
 * @param params {@code name=value, ...} ({@code ""} when none)
 * @param score the primary score
 * @param error its 99.9 % error (NaN with too few iterations)
 * @param unit the primary unit, e.g. {@code ns/op}
 * @param allocNorm {@code gc.alloc.rate.norm} in bytes per operation (NaN without the GC profiler)
 * @param allocError its error
 * @param others other non-GC secondary results (e.g. aux counters), name → "score unit"
 * @param settings forks, warm-up, measurement and mode the run used
 */
public record MicroRow(String benchmark, String params, double score, double error, String unit, double allocNorm,
        double allocError, Map<String, String> others, String settings) {

    static final String ALLOC_NORM = "gc.alloc.rate.norm";

    /** The row for one of JMH's results. */
    public static MicroRow of(RunResult run) {
        BenchmarkParams p = run.getParams();
        String[] parts = p.getBenchmark().split("\\.");
        String name = parts.length >= 2 ? parts[parts.length - 2] + "." + parts[parts.length - 1] : p.getBenchmark();
        String params = p.getParamsKeys().stream().map(k -> k + "=" + p.getParam(k)).collect(Collectors.joining(", "));
        Result<?> primary = run.getPrimaryResult();
        Map<String, Result> secondary = run.getSecondaryResults();
        Result<?> norm = secondary.get(ALLOC_NORM);
        Map<String, String> others = new java.util.TreeMap<>();
        secondary.forEach((k, v) -> {
            if (!k.startsWith("gc.")) {
                // JMH labels aux counters' unit "#" (a count): the name says what is counted.
                String unit = "#".equals(v.getScoreUnit()) ? "" : " " + v.getScoreUnit();
                others.put(k, MicroSection.number(v.getScore()) + unit);
            }
        });
        return new MicroRow(name, params, primary.getScore(), primary.getScoreError(), primary.getScoreUnit(),
                norm == null ? Double.NaN : norm.getScore(), norm == null ? Double.NaN : norm.getScoreError(),
                Map.copyOf(others), settings(p));
    }

    /** e.g. {@code 1 fork, warm-up 3 × 1 s, measurement 5 × 1 s, mode avgt}. */
    static String settings(BenchmarkParams p) {
        return p.getForks() + " fork" + (p.getForks() == 1 ? "" : "s") + ", warm-up " + p.getWarmup().getCount() + " × "
                + p.getWarmup().getTime() + ", measurement " + p.getMeasurement().getCount() + " × "
                + p.getMeasurement().getTime() + ", mode " + p.getMode().shortLabel() + ", " + p.getThreads() + " thread"
                + (p.getThreads() == 1 ? "" : "s");
    }
}
