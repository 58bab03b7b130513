package io.nodemesh.bench.harness;

/**
 * One load run against one subject in the matrix.
 *
 * @param scenario {@link #LATENCY}, {@link #THROUGHPUT}, {@link #BULK} or {@link #CHURN}
 * @param param connections (latency, throughput), streams (bulk) or threads (churn)
 * @param subject the subject's name
 * @param round 0-based measured round
 * @param value the scenario's headline: achieved requests/s (latency, throughput), Gbit/s (bulk), new connections/s (churn)
 * @param p50Us latency percentiles in µs (CO-corrected for latency; wrk's for throughput; per connection for churn), -1 if none
 * @param errors failed exchanges / connections / socket errors the tool reported
 * @param cpuSeconds the subject's processes' CPU seconds (utime+stime) over the tool's measured window (after its
 *        warm-up; the load tools announce it, {@code MeasuredWindow}), or over the whole run of a tool that has no
 *        warm-up (wrk); NaN for direct
 * @param cpuPer1000 CPU seconds per 1000 requests (= vCPU per 1000 requests/s) or per 1000 connections (churn) over
 *        the same window; NaN if not applicable
 * @param vcpu cpuSeconds divided by the window's wall time
 * @param others share of the pinned proxy core used by other processes during the window (0..1), NaN if unpinned
 * @param failure why the run failed, or null
 * @param telemetryCpuSeconds CPU seconds of the subject's telemetry alone over the same window (the agent process and the
 *        proxy's reporter threads), part of {@code cpuSeconds}; NaN for subjects without telemetry
 */
public record Measurement(String scenario, int param, String subject, int round, double value,
                          long p50Us, long p90Us, long p99Us, long p999Us, long errors,
                          double cpuSeconds, double cpuPer1000, double vcpu, double others, String failure,
                          double telemetryCpuSeconds) {

    public static final String LATENCY = "latency";
    public static final String THROUGHPUT = "throughput";
    public static final String BULK = "bulk";
    public static final String CHURN = "churn";

    /** A run of a subject without telemetry. */
    public Measurement(String scenario, int param, String subject, int round, double value,
                       long p50Us, long p90Us, long p99Us, long p999Us, long errors,
                       double cpuSeconds, double cpuPer1000, double vcpu, double others, String failure) {
        this(scenario, param, subject, round, value, p50Us, p90Us, p99Us, p999Us, errors, cpuSeconds, cpuPer1000, vcpu,
                others, failure, Double.NaN);
    }

    /** This run with its telemetry's CPU seconds. */
    public Measurement withTelemetryCpu(double seconds) {
        return new Measurement(scenario, param, subject, round, value, p50Us, p90Us, p99Us, p999Us, errors, cpuSeconds,
                cpuPer1000, vcpu, others, failure, seconds);
    }

    /** The telemetry's share of the subject's CPU in this run (0..1), NaN without telemetry or CPU. */
    public double telemetryShare() {
        return cpuSeconds > 0 ? telemetryCpuSeconds / cpuSeconds : Double.NaN;
    }

    /** A run that produced no figures. */
    public static Measurement failed(String scenario, int param, String subject, int round, String why) {
        return new Measurement(scenario, param, subject, round, Double.NaN, -1, -1, -1, -1, 0,
                Double.NaN, Double.NaN, Double.NaN, Double.NaN, why);
    }

    /** Whether it produced figures. */
    public boolean ok() {
        return failure == null;
    }
}
