package io.nodemesh.bench.harness;

import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * One subject's figures over all its measured rounds: medians of the per-round wrk figures,
 * summed CPU time, and the memory of its process after the last round.
 *
 * @param name short name (direct, nodemesh, haproxy)
 * @param description what the path is, for the report
 * @param rounds how many measured rounds it ran (0 when it could not run)
 * @param requestsPerSecond median over rounds
 * @param p50Micros median over rounds of the per-round p50
 * @param p90Micros median over rounds of the per-round p90
 * @param p99Micros median over rounds of the per-round p99
 * @param requests requests completed over all rounds
 * @param seconds wall time of all rounds
 * @param cpuSeconds CPU seconds of the subject's process over all rounds, NaN if it has none
 * @param rssKb VmRSS after the last round in KiB, -1 if no process
 * @param hwmKb VmHWM (peak RSS) after the last round in KiB, -1 if no process
 * @param errors socket errors + non-2xx responses over all rounds
 * @param unavailable why the subject did not run, or null when it ran
 */
public record SubjectSummary(String name, String description, int rounds, double requestsPerSecond,
                             double p50Micros, double p90Micros, double p99Micros, long requests,
                             double seconds, double cpuSeconds, long rssKb, long hwmKb, long errors,
                             String unavailable) {

    /** A subject that could not run, with the reason. */
    public static SubjectSummary unavailable(String name, String description, String reason) {
        return new SubjectSummary(name, description, 0, Double.NaN, Double.NaN, Double.NaN, Double.NaN,
                0, 0, Double.NaN, -1, -1, 0, reason);
    }

    /** Summarises the rounds of one subject; {@code memory} is null when it has no process. */
    public static SubjectSummary of(String name, String description, List<RoundResult> rounds, ProcessSample memory) {
        if (rounds.isEmpty()) {
            throw new IllegalArgumentException("no rounds for " + name);
        }
        long requests = 0;
        long errors = 0;
        double seconds = 0;
        double cpu = 0;
        for (RoundResult r : rounds) {
            requests += r.wrk().requests();
            errors += r.wrk().socketErrors() + r.wrk().non2xx();
            seconds += r.wrk().seconds();
            cpu += r.cpuSeconds();
        }
        return new SubjectSummary(name, description, rounds.size(),
                median(rounds, r -> r.wrk().requestsPerSecond()),
                median(rounds, r -> r.wrk().p50Micros()),
                median(rounds, r -> r.wrk().p90Micros()),
                median(rounds, r -> r.wrk().p99Micros()),
                requests, seconds, cpu,
                memory == null ? -1 : memory.rssKb(), memory == null ? -1 : memory.hwmKb(), errors, null);
    }

    /** Whether it ran. */
    public boolean ran() {
        return unavailable == null;
    }

    /** Share of one core the subject's process kept busy during its rounds (1.0 = saturated); NaN without a process. */
    public double coreBusy() {
        return Double.isNaN(cpuSeconds) || seconds == 0 ? Double.NaN : cpuSeconds / seconds;
    }

    /**
     * CPU of the subject's process per 1000 requests/s, in vCPU (Istio's unit): CPU seconds per
     * wall second, divided by thousands of requests per second. NaN without a process.
     */
    public double vcpuPer1000Rps() {
        if (Double.isNaN(cpuSeconds) || requests == 0) {
            return Double.NaN;
        }
        return (cpuSeconds / seconds) / (requests / seconds / 1000.0);
    }

    static double median(List<RoundResult> rounds, ToDoubleFunction<RoundResult> f) {
        double[] v = rounds.stream().mapToDouble(f).toArray();
        Arrays.sort(v);
        int n = v.length;
        return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    }
}
