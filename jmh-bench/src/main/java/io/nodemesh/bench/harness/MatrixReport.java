package io.nodemesh.bench.harness;

import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a matrix run produced: every measurement, each subject's memory, and why a subject did
 * not run. Figures over several rounds are aggregated by their median ({@link #median}).
 *
 * @param descriptions subject name → what path it stands for, in report order
 * @param unavailable subject name → why it did not run (or stopped running)
 * @param memory subject name → its processes' memory (summed over the pair's two HAProxies)
 */
public record MatrixReport(Machine machine, MatrixOptions options, Instant started, Duration took,
                           Map<String, String> descriptions, Map<String, String> unavailable,
                           List<Measurement> measurements, Map<String, Memory> memory, List<String> notes) {

    /**
     * A subject's resident memory in KiB.
     *
     * @param steadyRssKb VmRSS right after the fixed-rate (1000 requests/s) runs
     * @param peakRssKb VmHWM at the end of the matrix
     */
    public record Memory(long steadyRssKb, long peakRssKb) {
    }

    public MatrixReport {
        descriptions = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(descriptions));
        unavailable = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(unavailable));
        measurements = List.copyOf(measurements);
        memory = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(memory));
        notes = List.copyOf(notes);
    }

    /** The subjects that produced at least one figure, in report order. */
    public List<String> ran() {
        return descriptions.keySet().stream()
                .filter(s -> measurements.stream().anyMatch(m -> m.subject().equals(s) && m.ok())).toList();
    }

    /**
     * The median over rounds of the successful runs of {@code subject} in {@code scenario} at
     * {@code param}: every figure is the median of that figure (errors summed).
     */
    public Optional<Measurement> median(String scenario, int param, String subject) {
        List<Measurement> ms = measurements.stream().filter(m -> m.ok() && m.scenario().equals(scenario)
                && m.param() == param && m.subject().equals(subject)).toList();
        if (ms.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(new Measurement(scenario, param, subject, -1,
                med(ms, Measurement::value),
                (long) med(ms, m -> m.p50Us()), (long) med(ms, m -> m.p90Us()), (long) med(ms, m -> m.p99Us()),
                (long) med(ms, m -> m.p999Us()), ms.stream().mapToLong(Measurement::errors).sum(),
                med(ms, Measurement::cpuSeconds), med(ms, Measurement::cpuPer1000), med(ms, Measurement::vcpu),
                med(ms, Measurement::others), null, med(ms, Measurement::telemetryCpuSeconds)));
    }

    /** Why every run of {@code subject} in {@code scenario} at {@code param} failed, or empty if one succeeded or none ran. */
    public Optional<String> failure(String scenario, int param, String subject) {
        List<Measurement> ms = measurements.stream().filter(m -> m.scenario().equals(scenario)
                && m.param() == param && m.subject().equals(subject)).toList();
        if (ms.isEmpty() || ms.stream().anyMatch(Measurement::ok)) {
            return Optional.empty();
        }
        return Optional.of(ms.getLast().failure());
    }

    static double med(List<Measurement> ms, java.util.function.ToDoubleFunction<Measurement> f) {
        double[] v = ms.stream().mapToDouble(f).toArray();
        Arrays.sort(v);
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
