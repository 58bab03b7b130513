package io.nodemesh.bench.load;

import io.nodemesh.proxy.config.HostPort;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A fortio-like fixed-rate load generator: {@code connections} keep-alive connections share a
 * total rate spread evenly in time (connection {@code i} is offset by {@code i/rate}), one platform
 * thread per connection paced to the intended send times, latency corrected for coordinated
 * omission and recorded in HdrHistogram (µs, 3 digits).
 */
public final class FixedRateClient {

    private FixedRateClient() {
    }

    /** Runs one bounded load run against {@code config.target()} and returns what it measured. */
    public static FixedRateResult run(Config config) throws InterruptedException {
        PacingClock clock = PacingClock.system(config.spin().toNanos());
        byte[] request = LoadProtocol.request(config.requestSize(), LoadProtocol.KEEP_ALIVE);
        int timeoutMillis = (int) Math.max(1, config.timeout().toMillis());
        List<SocketRoundTripper> trippers = new ArrayList<>();
        ErrorCounts connectErrors = new ErrorCounts();
        for (int i = 0; i < config.connections(); i++) {
            SocketRoundTripper tripper = new SocketRoundTripper(config.target(), request, config.responseSize(), timeoutMillis);
            try {
                tripper.connect();
            } catch (IOException e) {
                connectErrors.count(e); // the first due request retries the connection
            }
            trippers.add(tripper);
        }

        double intervalNanos = config.connections() * 1e9 / config.rate();
        // Start a little in the future so every thread is parked before the first request is due.
        long start = clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(20);
        long warmupEnd = start + config.warmup().toNanos();
        long end = warmupEnd + config.duration().toNanos();
        long perConnectionMax = config.maxRequests() == Long.MAX_VALUE ? Long.MAX_VALUE
                : (config.maxRequests() + config.connections() - 1) / config.connections();

        List<PacedConnection> connections = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < config.connections(); i++) {
            long firstDue = start + (long) (i * 1e9 / config.rate());
            PacedConnection c = new PacedConnection(trippers.get(i), clock, firstDue, (long) intervalNanos,
                    warmupEnd, end, perConnectionMax);
            Thread t = Thread.ofPlatform().name("fixed-rate-" + i).daemon().unstarted(c);
            connections.add(c);
            threads.add(t);
        }
        threads.forEach(Thread::start);
        joinAll(threads, connections, end + config.timeout().toNanos() + TimeUnit.SECONDS.toNanos(1));

        Histogram corrected = Histograms.newLatencyHistogram();
        Histogram service = Histograms.newLatencyHistogram();
        List<ErrorCounts> errors = new ArrayList<>(List.of(connectErrors));
        long lastCompletion = end;
        for (PacedConnection c : connections) {
            corrected.add(c.recorder().corrected());
            service.add(c.recorder().service());
            errors.add(c.errors());
            lastCompletion = Math.max(lastCompletion, c.recorder().lastCompletionNanos(end));
        }
        var errorKinds = ErrorCounts.merge(errors);
        // The measured window runs until the last response, so a server that falls behind shows a lower rate.
        double measuredSeconds = (lastCompletion - warmupEnd) / 1e9;
        long requests = corrected.getTotalCount();
        return new FixedRateResult(HostPort.format(config.target()), config.connections(), config.rate(),
                config.warmup().toNanos() / 1e9, config.duration().toNanos() / 1e9, requests,
                ErrorCounts.total(errorKinds), errorKinds, measuredSeconds > 0 ? requests / measuredSeconds : 0,
                LatencySummary.of(corrected), LatencySummary.of(service), Histograms.encode(corrected));
    }

    /** Waits for the senders until {@code deadline}; then closes their sockets to unblock stragglers. */
    static void joinAll(List<Thread> threads, List<? extends Runnable> loops, long deadlineNanos) throws InterruptedException {
        for (Thread t : threads) {
            long remaining = deadlineNanos - System.nanoTime();
            if (remaining > 0) {
                t.join(Duration.ofNanos(remaining));
            }
        }
        for (Runnable loop : loops) {
            if (loop instanceof PacedConnection c) {
                c.stop();
            }
        }
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(5));
        }
    }

    /** Runs the client as a process: {@code --target host:port [--connections N] [--rate R] ...}. */
    public static void main(String[] args) {
        System.exit(LoadCli.run(new Cli(), args));
    }

    /** One fixed-rate run's settings; see {@link Cli} for their meaning. */
    public record Config(InetSocketAddress target, int connections, double rate, Duration duration, Duration warmup,
                         int requestSize, int responseSize, Duration timeout, long maxRequests, Duration spin) {
        public Config {
            Objects.requireNonNull(target, "target");
            if (connections < 1 || connections > 1024) {
                throw new IllegalArgumentException("connections must be between 1 and 1024, got " + connections);
            }
            if (!(rate > 0) || rate > 10_000_000) {
                throw new IllegalArgumentException("rate must be above 0 and at most 10M requests/s, got " + rate);
            }
            checkPositive("duration", duration);
            checkNotNegative("warmup", warmup);
            checkPositive("timeout", timeout);
            checkNotNegative("spin", spin);
            LoadProtocol.checkSize("request size", requestSize);
            LoadProtocol.checkSize("response size", responseSize);
            if (maxRequests < 1) {
                throw new IllegalArgumentException("max requests must be at least 1, got " + maxRequests);
            }
        }

        /** Istio's settings: 1000 requests/s, 1 KB each way, 2 s timeout, no count limit. */
        public static Config of(InetSocketAddress target, int connections, Duration duration, Duration warmup) {
            return new Config(target, connections, 1000, duration, warmup, LoadProtocol.DEFAULT_PAYLOAD,
                    LoadProtocol.DEFAULT_PAYLOAD, Duration.ofSeconds(2), Long.MAX_VALUE, Duration.ofNanos(100_000));
        }

        public Config withRate(double requestsPerSecond) {
            return new Config(target, connections, requestsPerSecond, duration, warmup, requestSize, responseSize,
                    timeout, maxRequests, spin);
        }

        public Config withTimeout(Duration t) {
            return new Config(target, connections, rate, duration, warmup, requestSize, responseSize, t, maxRequests, spin);
        }

        public Config withMaxRequests(long max) {
            return new Config(target, connections, rate, duration, warmup, requestSize, responseSize, timeout, max, spin);
        }
    }

    static void checkPositive(String what, Duration d) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(what + " must be positive, got " + d);
        }
    }

    static void checkNotNegative(String what, Duration d) {
        if (d == null || d.isNegative()) {
            throw new IllegalArgumentException(what + " must not be negative, got " + d);
        }
    }

    @Command(name = "fixed-rate", mixinStandardHelpOptions = true,
            description = "Fixed-rate request/response load with coordinated-omission-corrected latency; prints one JSON line.")
    static final class Cli implements LoadCli.Tool {
        @Option(names = "--target", required = true, converter = LoadCli.AddressConverter.class,
                description = "LoadServer (rr mode) address, host:port or [v6]:port.")
        InetSocketAddress target;
        @Option(names = "--connections", defaultValue = "2", description = "Keep-alive connections (default ${DEFAULT-VALUE}).")
        int connections;
        @Option(names = "--rate", defaultValue = "1000", description = "Total requests/s over all connections (default ${DEFAULT-VALUE}).")
        double rate;
        @Option(names = "--duration", defaultValue = "10s", converter = LoadCli.DurationConverter.class,
                description = "Measured time after the warm-up (default ${DEFAULT-VALUE}).")
        Duration duration;
        @Option(names = "--warmup", defaultValue = "2s", converter = LoadCli.DurationConverter.class,
                description = "Load sent but not measured (default ${DEFAULT-VALUE}).")
        Duration warmup;
        @Option(names = "--request-size", defaultValue = "1024", description = "Must match the server's.")
        int requestSize;
        @Option(names = "--response-size", defaultValue = "1024", description = "Must match the server's.")
        int responseSize;
        @Option(names = "--timeout", defaultValue = "2s", converter = LoadCli.DurationConverter.class,
                description = "Connect and read timeout (default ${DEFAULT-VALUE}).")
        Duration timeout;
        @Option(names = "--max-requests", defaultValue = "" + Long.MAX_VALUE, description = "Stop after this many requests in total.")
        long maxRequests;
        @Option(names = "--spin", defaultValue = "100us", converter = LoadCli.DurationConverter.class,
                description = "Busy-wait this long before each send instead of parking, to beat timer slack (default ${DEFAULT-VALUE}).")
        Duration spin;

        @Override
        public Object call() throws Exception {
            try (MeasuredWindow window = MeasuredWindow.announce(warmup, duration, System.err)) {
                return run(new Config(target, connections, rate, duration, warmup, requestSize, responseSize,
                        timeout, maxRequests, spin));
            }
        }
    }
}
