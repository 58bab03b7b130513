package io.nodemesh.bench.harness;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * How an end-to-end run is made.
 *
 * @param roundDuration how long wrk runs per subject per round (whole seconds)
 * @param warmup how long each subject is driven once before the measured rounds
 * @param rounds measured rounds; each runs every subject once, alternating the order (ABC CBA ...)
 * @param connections wrk's concurrent connections
 * @param bodyBytes size of the server's response body
 * @param subjects which subjects to run, from {@link #ALL_SUBJECTS}, in report order
 * @param out the Markdown file whose {@code e2e} section is rewritten
 * @param proxyJar the shaded {@code nodemesh.jar} that runs {@code proxy}
 * @param transport the proxy's {@code --transport}
 * @param proxyCpu the core the proxy and HAProxy are pinned to
 * @param loadCpu the core wrk and the HTTP server are pinned to
 * @param nice scheduling niceness (-20..19) for every process the benchmark starts (server, proxies, wrk);
 *        below 0 they win the cores back from unrelated work on a shared machine, all subjects alike
 * @param keepLogs keep the work directory (configs, logs, raw wrk output) even after a clean run
 * @param commandLine the command line as the user typed it, for the report
 */
public record BenchOptions(Duration roundDuration, Duration warmup, int rounds, int connections, int bodyBytes,
                           List<String> subjects, Path out, Path proxyJar, String transport, int proxyCpu,
                           int loadCpu, int nice, boolean keepLogs, String commandLine) {

    /** The subjects this harness knows, in report order. */
    public static final List<String> ALL_SUBJECTS = List.of("direct", "nodemesh", "haproxy", "haproxy-captured");

    /** Checks every field and names the offending option. */
    public BenchOptions {
        if (roundDuration.toMillis() % 1000 != 0 || roundDuration.toSeconds() < 1 || roundDuration.toSeconds() > 50) {
            throw new IllegalArgumentException("--duration must be a whole number of seconds between 1s and 50s, got " + roundDuration.toMillis() + " ms");
        }
        if (warmup.toMillis() % 1000 != 0 || warmup.toSeconds() < 1 || warmup.toSeconds() > 50) {
            throw new IllegalArgumentException("--warmup must be a whole number of seconds between 1s and 50s, got " + warmup.toMillis() + " ms");
        }
        if (rounds < 1 || rounds > 20) {
            throw new IllegalArgumentException("--rounds must be between 1 and 20, got " + rounds);
        }
        if (connections < 1 || connections > 1024) {
            throw new IllegalArgumentException("--connections must be between 1 and 1024, got " + connections);
        }
        if (bodyBytes < 0 || bodyBytes > 1 << 20) {
            throw new IllegalArgumentException("--body must be between 0 and 1048576 bytes, got " + bodyBytes);
        }
        subjects = List.copyOf(subjects);
        if (subjects.isEmpty() || !ALL_SUBJECTS.containsAll(subjects)) {
            throw new IllegalArgumentException("--subjects must be a non-empty list from " + ALL_SUBJECTS + ", got " + subjects);
        }
        if (!List.of("epoll", "io_uring", "nio").contains(transport)) {
            throw new IllegalArgumentException("--transport must be epoll, io_uring or nio, got " + transport);
        }
        if (nice < -20 || nice > 19) {
            throw new IllegalArgumentException("--nice must be between -20 and 19, got " + nice);
        }
        if (proxyCpu < 0 || loadCpu < 0) {
            throw new IllegalArgumentException("--proxy-cpu and --load-cpu must be core numbers (>= 0)");
        }
    }

    /** Total time the measured rounds and warm-ups take, without start-up. */
    public Duration loadTime() {
        return roundDuration.multipliedBy((long) rounds * subjects.size()).plus(warmup.multipliedBy(subjects.size()));
    }
}
