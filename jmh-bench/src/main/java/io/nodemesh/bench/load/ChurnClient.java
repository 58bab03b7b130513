package io.nodemesh.bench.load;

import io.nodemesh.proxy.config.HostPort;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Connection churn like netperf's TCP_CRR: each thread loops connect → one request/response →
 * close as fast as it can, bounded by a duration and a count. See {@link CloseMode} for who closes
 * first and why that matters for TIME_WAIT.
 */
public final class ChurnClient {

    /** Pause after a failed connection, so a dead target is not hammered by a spinning loop. */
    static final long ERROR_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

    private ChurnClient() {
    }

    /** Runs one bounded churn run against {@code config.target()}. */
    public static ChurnResult run(Config config) throws InterruptedException {
        long start = System.nanoTime();
        long warmupEnd = start + config.warmup().toNanos();
        long end = warmupEnd + config.duration().toNanos();
        long perThreadMax = config.maxConnections() == Long.MAX_VALUE ? Long.MAX_VALUE
                : (config.maxConnections() + config.threads() - 1) / config.threads();
        List<Worker> workers = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < config.threads(); i++) {
            Worker w = new Worker(config, warmupEnd, end, perThreadMax);
            workers.add(w);
            threads.add(Thread.ofPlatform().name("churn-" + i).daemon().start(w));
        }
        long deadline = end + config.timeout().toNanos() * 3 + TimeUnit.SECONDS.toNanos(1);
        for (Thread t : threads) {
            long remaining = deadline - System.nanoTime();
            if (remaining > 0) {
                t.join(Duration.ofNanos(remaining));
            }
        }
        workers.forEach(Worker::stop);
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(5));
        }

        Histogram latency = Histograms.newLatencyHistogram();
        List<ErrorCounts> errors = new ArrayList<>();
        long lastDone = end;
        for (Worker w : workers) {
            latency.add(w.recorder.corrected());
            errors.add(w.errors);
            lastDone = Math.max(lastDone, w.recorder.lastCompletionNanos(end));
        }
        var errorKinds = ErrorCounts.merge(errors);
        long connections = latency.getTotalCount();
        double measuredSeconds = (lastDone - warmupEnd) / 1e9;
        return new ChurnResult(HostPort.format(config.target()), config.threads(), config.closeMode(),
                config.warmup().toNanos() / 1e9, config.duration().toNanos() / 1e9, connections,
                ErrorCounts.total(errorKinds), errorKinds, measuredSeconds > 0 ? connections / measuredSeconds : 0,
                LatencySummary.of(latency));
    }

    /** One thread's connect/exchange/close loop. */
    private static final class Worker implements Runnable {
        private final Config config;
        private final long end;
        private final long maxConnections;
        private final SocketRoundTripper tripper;
        // Churn has no schedule, so "intended" is the connect start: corrected latency = connect+RR.
        private final LatencyRecorder recorder;
        private final ErrorCounts errors = new ErrorCounts();
        private volatile boolean stopped;

        Worker(Config config, long warmupEnd, long end, long maxConnections) {
            this.config = config;
            this.end = end;
            this.maxConnections = maxConnections;
            byte flag = config.closeMode() == CloseMode.SERVER_FIRST ? LoadProtocol.CLOSE_AFTER_RESPONSE : LoadProtocol.KEEP_ALIVE;
            this.tripper = new SocketRoundTripper(config.target(), LoadProtocol.request(config.requestSize(), flag),
                    config.responseSize(), (int) Math.max(1, config.timeout().toMillis()));
            this.recorder = new LatencyRecorder(warmupEnd);
        }

        @Override
        public void run() {
            for (long n = 0; n < maxConnections && !stopped; n++) {
                long begin = System.nanoTime();
                if (begin - end >= 0) {
                    break;
                }
                try {
                    tripper.connect();
                    tripper.roundTrip();
                    long responded = System.nanoTime();
                    switch (config.closeMode()) {
                        case SERVER_FIRST -> {
                            tripper.awaitServerClose();
                            tripper.disconnect();
                        }
                        case CLIENT_FIRST -> tripper.disconnect();
                        case RESET -> tripper.abort();
                    }
                    recorder.record(begin, begin, responded);
                } catch (IOException e) {
                    tripper.abort();
                    if (stopped) {
                        break;
                    }
                    errors.count(e);
                    LockSupport.parkNanos(Math.min(ERROR_PAUSE_NANOS, Math.max(0, end - System.nanoTime())));
                }
            }
            tripper.disconnect();
        }

        void stop() {
            stopped = true;
            tripper.abort();
        }
    }

    /** Runs the client as a process: {@code --target host:port [--threads T] [--duration 10s] ...}. */
    public static void main(String[] args) {
        System.exit(LoadCli.run(new Cli(), args));
    }

    /** One churn run's settings; see {@link Cli} for their meaning. */
    public record Config(InetSocketAddress target, int threads, Duration duration, Duration warmup, int requestSize,
                         int responseSize, Duration timeout, long maxConnections, CloseMode closeMode) {
        public Config {
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(closeMode, "closeMode");
            if (threads < 1 || threads > 1024) {
                throw new IllegalArgumentException("threads must be between 1 and 1024, got " + threads);
            }
            FixedRateClient.checkPositive("duration", duration);
            FixedRateClient.checkNotNegative("warmup", warmup);
            FixedRateClient.checkPositive("timeout", timeout);
            LoadProtocol.checkSize("request size", requestSize);
            LoadProtocol.checkSize("response size", responseSize);
            if (maxConnections < 1) {
                throw new IllegalArgumentException("max connections must be at least 1, got " + maxConnections);
            }
        }

        /** 1 KB each way, server closes first, 2 s timeout, no count limit. */
        public static Config of(InetSocketAddress target, int threads, Duration duration, Duration warmup) {
            return new Config(target, threads, duration, warmup, LoadProtocol.DEFAULT_PAYLOAD,
                    LoadProtocol.DEFAULT_PAYLOAD, Duration.ofSeconds(2), Long.MAX_VALUE, CloseMode.SERVER_FIRST);
        }

        public Config withCloseMode(CloseMode mode) {
            return new Config(target, threads, duration, warmup, requestSize, responseSize, timeout, maxConnections, mode);
        }

        public Config withMaxConnections(long max) {
            return new Config(target, threads, duration, warmup, requestSize, responseSize, timeout, max, closeMode);
        }

        public Config withTimeout(Duration t) {
            return new Config(target, threads, duration, warmup, requestSize, responseSize, t, maxConnections, closeMode);
        }
    }

    @Command(name = "churn", mixinStandardHelpOptions = true,
            description = "Connect, one request/response, close, in a loop (like netperf TCP_CRR); prints one JSON line.")
    static final class Cli implements LoadCli.Tool {
        @Option(names = "--target", required = true, converter = LoadCli.AddressConverter.class,
                description = "LoadServer (rr mode) address, host:port or [v6]:port.")
        InetSocketAddress target;
        @Option(names = "--threads", defaultValue = "4", description = "Concurrent connect loops (default ${DEFAULT-VALUE}).")
        int threads;
        @Option(names = "--duration", defaultValue = "10s", converter = LoadCli.DurationConverter.class,
                description = "Measured time after the warm-up (default ${DEFAULT-VALUE}).")
        Duration duration;
        @Option(names = "--warmup", defaultValue = "1s", converter = LoadCli.DurationConverter.class,
                description = "Churn sent but not measured (default ${DEFAULT-VALUE}).")
        Duration warmup;
        @Option(names = "--request-size", defaultValue = "1024", description = "Must match the server's.")
        int requestSize;
        @Option(names = "--response-size", defaultValue = "1024", description = "Must match the server's.")
        int responseSize;
        @Option(names = "--timeout", defaultValue = "2s", converter = LoadCli.DurationConverter.class,
                description = "Connect and read timeout (default ${DEFAULT-VALUE}).")
        Duration timeout;
        @Option(names = "--max-connections", defaultValue = "" + Long.MAX_VALUE, description = "Stop after this many connections in total.")
        long maxConnections;
        @Option(names = "--close", defaultValue = "server_first",
                description = "server_first (default; no client TIME_WAIT), client_first, or reset (SO_LINGER 0).")
        CloseMode closeMode;

        @Override
        public Object call() throws Exception {
            try (MeasuredWindow window = MeasuredWindow.announce(warmup, duration, System.err)) {
                return run(new Config(target, threads, duration, warmup, requestSize, responseSize, timeout,
                        maxConnections, closeMode));
            }
        }
    }
}
