package io.nodemesh.bench.harness;

/**
 * What one {@code wrk --latency} run measured.
 *
 * @param requests completed requests
 * @param seconds the run's wall time as wrk reports it
 * @param requestsPerSecond wrk's {@code Requests/sec}
 * @param p50Micros median latency in microseconds
 * @param p75Micros 75th percentile in microseconds
 * @param p90Micros 90th percentile in microseconds
 * @param p99Micros 99th percentile in microseconds
 * @param maxMicros the largest latency seen, in microseconds
 * @param socketErrors connect + read + write + timeout errors (0 when wrk prints no such line)
 * @param non2xx responses that were not 2xx or 3xx
 */
public record WrkResult(long requests, double seconds, double requestsPerSecond,
                        double p50Micros, double p75Micros, double p90Micros, double p99Micros,
                        double maxMicros, long socketErrors, long non2xx) {

    /** Whether every request got a 2xx/3xx answer without socket errors. */
    public boolean clean() {
        return socketErrors == 0 && non2xx == 0;
    }
}
