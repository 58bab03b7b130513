package io.nodemesh.bench.harness;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How a scenario-matrix run is made (issue 7): which subjects, which load points, how long each.
 *
 * @param latencyConnections fixed-rate connection counts (Istio's 2..64)
 * @param rate fixed rate in requests/s over all connections
 * @param payload request and response size in bytes (fixed rate, churn, and wrk's response body)
 * @param latencyWarmup unmeasured part of each fixed-rate run
 * @param latencyDuration measured part of each fixed-rate run
 * @param wrkConnections wrk connection counts (maximum throughput)
 * @param wrkDuration each wrk run (whole seconds)
 * @param bulkStreams bulk-transfer stream counts
 * @param churnThreads concurrent connect loops of the churn client
 * @param toolWarmup warm-up of the bulk and churn runs
 * @param churnWarmup unmeasured churn through every subject before the first round: a fresh JVM proxy's accept and
 *        connect path is still interpreted or C1-compiled for its first tens of thousands of connections
 * @param shortDuration measured part of the bulk and churn runs
 * @param rounds measured rounds of the whole matrix
 * @param subjects subjects in report order, from {@link #ALL_SUBJECTS}
 * @param out the results file whose matrix section is rewritten
 * @param proxyJar nodemesh.jar: runs the proxy, the agent and {@code top} (the load tools run from this module, {@code LoadTools})
 * @param proxyCpu the core every proxy (nodemesh, both HAProxies, both proxies of the tunnel pair) is pinned to
 * @param loadCpu the core the servers and the load generators are pinned to
 * @param nice niceness for every process the matrix starts
 * @param keepLogs keep the work directory after a clean run
 * @param commandLine what the user typed, for the report
 */
public record MatrixOptions(List<Integer> latencyConnections, double rate, int payload, Duration latencyWarmup,
                            Duration latencyDuration, List<Integer> wrkConnections, Duration wrkDuration,
                            List<Integer> bulkStreams, int churnThreads, Duration toolWarmup, Duration churnWarmup, Duration shortDuration,
                            int rounds, List<String> subjects, Path out, Path proxyJar, int proxyCpu, int loadCpu,
                            int nice, boolean keepLogs, String commandLine) {

    /** Every subject the matrix knows, in report order. */
    public static final List<String> ALL_SUBJECTS = List.of("direct", "nodemesh", "nodemesh-telemetry", "nodemesh-again", "nodemesh-io_uring",
            "nodemesh-nio", "haproxy", "haproxy-mtls", "nodemesh-mtls");

    /** What the matrix runs unless told otherwise: all but the A/A control, which only the telemetry on/off part needs. */
    public static final List<String> DEFAULT_SUBJECTS = ALL_SUBJECTS.stream().filter(s -> !s.equals("nodemesh-again")).toList();

    /** Checks the fields and names the offending option. */
    public MatrixOptions {
        latencyConnections = List.copyOf(latencyConnections);
        wrkConnections = List.copyOf(wrkConnections);
        bulkStreams = List.copyOf(bulkStreams);
        subjects = List.copyOf(subjects);
        check(!latencyConnections.isEmpty() && latencyConnections.stream().allMatch(c -> c >= 1 && c <= 256),
                "--latency-connections must be 1..256 each, got " + latencyConnections);
        check(!wrkConnections.isEmpty() && wrkConnections.stream().allMatch(c -> c >= 1 && c <= 1024),
                "--wrk-connections must be 1..1024 each, got " + wrkConnections);
        check(!bulkStreams.isEmpty() && bulkStreams.stream().allMatch(c -> c >= 1 && c <= 64),
                "--bulk-streams must be 1..64 each, got " + bulkStreams);
        check(rate >= 1 && rate <= 100_000, "--rate must be 1..100000 requests/s, got " + rate);
        check(payload >= 1 && payload <= 1 << 20, "--payload must be 1..1048576 bytes, got " + payload);
        check(churnThreads >= 1 && churnThreads <= 64, "--churn-threads must be 1..64, got " + churnThreads);
        check(rounds >= 1 && rounds <= 10, "--rounds must be 1..10, got " + rounds);
        // Each tool runs under the harness's 60 s exec cap.
        check(seconds(latencyWarmup) + seconds(latencyDuration) <= 50 && seconds(latencyDuration) >= 1,
                "--latency-duration (>= 1 s) plus its warm-up must stay within 50 s");
        check(wrkDuration.toMillis() % 1000 == 0 && seconds(wrkDuration) >= 1 && seconds(wrkDuration) <= 50,
                "--wrk-duration must be whole seconds within 1..50");
        check(seconds(toolWarmup) + seconds(shortDuration) <= 50 && seconds(shortDuration) >= 1,
                "--short-duration (>= 1 s) plus its warm-up must stay within 50 s");
        check(!subjects.isEmpty() && ALL_SUBJECTS.containsAll(subjects) && subjects.contains("direct"),
                "--subjects must list direct and others from " + ALL_SUBJECTS + ", got " + subjects);
        check(!churnWarmup.isNegative() && seconds(churnWarmup) <= 50, "--churn-warmup must be 0..50 s, got " + churnWarmup);
        check(nice >= -20 && nice <= 19, "--nice must be -20..19, got " + nice);
        check(proxyCpu >= 0 && loadCpu >= 0, "--proxy-cpu and --load-cpu must be core numbers");
    }

    /** Rough length of the load (without start-up), for the banner. */
    public Duration loadTime() {
        double perSubject = latencyConnections.size() * (seconds(latencyWarmup) + seconds(latencyDuration) + 0.7)
                + wrkConnections.size() * seconds(wrkDuration)
                + (bulkStreams.size() + 1) * (seconds(toolWarmup) + seconds(shortDuration) + 0.7) + 2;
        return Duration.ofSeconds((long) ((perSubject * rounds + seconds(churnWarmup) + 2) * subjects.size()));
    }

    static double seconds(Duration d) {
        return d.toNanos() / 1e9;
    }

    private static void check(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }
}
