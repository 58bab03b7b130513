package io.nodemesh.bench.load;

import io.nodemesh.proxy.config.HostPort;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Bulk transfer like iperf: {@code streams} connections push to a {@link ServerMode#SINK} server
 * (or pull from a {@link ServerMode#SOURCE} one) for a duration; reports Gbit/s in total and per stream.
 */
public final class BulkClient {

    /** Which way the bytes flow. */
    public enum Direction { PUSH, PULL }

    private BulkClient() {
    }

    /** Runs one bounded bulk run against {@code config.target()}. */
    public static BulkResult run(Config config) throws InterruptedException {
        long start = System.nanoTime();
        long warmupEnd = start + config.warmup().toNanos();
        long end = warmupEnd + config.duration().toNanos();
        List<Stream> streams = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < config.streams(); i++) {
            Stream s = new Stream(config, warmupEnd, end);
            streams.add(s);
            threads.add(Thread.ofPlatform().name("bulk-" + i).daemon().start(s));
        }
        long deadline = end + config.timeout().toNanos() * 2 + TimeUnit.SECONDS.toNanos(1);
        for (Thread t : threads) {
            long remaining = deadline - System.nanoTime();
            if (remaining > 0) {
                t.join(Duration.ofNanos(remaining));
            }
        }
        streams.forEach(Stream::stop);
        for (Thread t : threads) {
            t.join(Duration.ofSeconds(5));
        }

        long bytes = 0;
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        List<Double> perStream = new ArrayList<>();
        List<ErrorCounts> errors = new ArrayList<>();
        for (Stream s : streams) {
            errors.add(s.errors);
            perStream.add(s.measuredNanos() > 0 ? s.bytes * 8.0 / s.measuredNanos() : 0.0);
            if (s.measuredNanos() > 0) {
                bytes += s.bytes;
                first = Math.min(first, s.measureStart);
                last = Math.max(last, s.measureEnd);
            }
        }
        var errorKinds = ErrorCounts.merge(errors);
        double gbps = last > first ? bytes * 8.0 / (last - first) : 0.0; // bits per nanosecond = Gbit/s
        return new BulkResult(HostPort.format(config.target()), config.direction(), config.streams(),
                config.warmup().toNanos() / 1e9, config.duration().toNanos() / 1e9, bytes, gbps, perStream,
                ErrorCounts.total(errorKinds), errorKinds);
    }

    /** One connection moving bytes; counts only what moves after the warm-up. */
    private static final class Stream implements Runnable {
        private final Config config;
        private final long warmupEnd;
        private final long end;
        private final byte[] chunk;
        private final ErrorCounts errors = new ErrorCounts();
        private volatile Socket socket;
        private volatile boolean stopped;
        private long bytes;
        private long measureStart;
        private long measureEnd;
        private boolean measuring;

        Stream(Config config, long warmupEnd, long end) {
            this.config = config;
            this.warmupEnd = warmupEnd;
            this.end = end;
            this.chunk = new byte[config.chunkSize()];
            Arrays.fill(chunk, (byte) 'b');
        }

        @Override
        public void run() {
            try (Socket s = new Socket()) {
                socket = s;
                s.setSoTimeout((int) Math.max(1, config.timeout().toMillis()));
                s.connect(config.target(), (int) Math.max(1, config.timeout().toMillis()));
                if (config.direction() == Direction.PUSH) {
                    push(s);
                } else {
                    pull(s);
                }
            } catch (IOException e) {
                if (!stopped) {
                    errors.count(e);
                }
                measuring = false; // a broken stream's figures are not a rate
            }
        }

        private void push(Socket s) throws IOException {
            OutputStream out = s.getOutputStream();
            long now;
            while ((now = System.nanoTime()) - end < 0 && !stopped) {
                out.write(chunk);
                account(chunk.length);
            }
            // Wait until the sink has read everything: it closes when our FIN arrives after the data.
            s.shutdownOutput();
            InputStream in = s.getInputStream();
            while (in.read(chunk) >= 0) {
                // the sink sends nothing; just wait for its FIN
            }
            measureEnd = System.nanoTime();
        }

        private void pull(Socket s) throws IOException {
            InputStream in = s.getInputStream();
            while (System.nanoTime() - end < 0 && !stopped) {
                int n = in.read(chunk);
                if (n < 0) {
                    throw new java.io.EOFException("source closed the stream early");
                }
                account(n);
            }
            measureEnd = System.nanoTime();
        }

        /** Counts bytes moved after the warm-up; the window opens at the first transfer completing after it. */
        private void account(int n) {
            if (measuring) {
                bytes += n;
            } else {
                long now = System.nanoTime();
                if (now - warmupEnd >= 0) {
                    measuring = true;
                    measureStart = now;
                }
            }
        }

        long measuredNanos() {
            return measuring && measureEnd - measureStart > 0 ? measureEnd - measureStart : 0;
        }

        void stop() {
            stopped = true;
            Socket s = socket;
            if (s != null) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // already closed
                }
            }
        }
    }

    /** Runs the client as a process: {@code --target host:port [--streams S] [--duration 10s] ...}. */
    public static void main(String[] args) {
        System.exit(LoadCli.run(new Cli(), args));
    }

    /** One bulk run's settings; see {@link Cli} for their meaning. */
    public record Config(InetSocketAddress target, int streams, Direction direction, Duration duration,
                         Duration warmup, int chunkSize, Duration timeout) {
        public Config {
            Objects.requireNonNull(target, "target");
            Objects.requireNonNull(direction, "direction");
            if (streams < 1 || streams > 256) {
                throw new IllegalArgumentException("streams must be between 1 and 256, got " + streams);
            }
            FixedRateClient.checkPositive("duration", duration);
            FixedRateClient.checkNotNegative("warmup", warmup);
            FixedRateClient.checkPositive("timeout", timeout);
            LoadProtocol.checkSize("chunk size", chunkSize);
        }

        /** Push with 128 KB writes and a 5 s timeout. */
        public static Config push(InetSocketAddress target, int streams, Duration duration, Duration warmup) {
            return new Config(target, streams, Direction.PUSH, duration, warmup, 128 * 1024, Duration.ofSeconds(5));
        }

        public Config withDirection(Direction d) {
            return new Config(target, streams, d, duration, warmup, chunkSize, timeout);
        }
    }

    @Command(name = "bulk", mixinStandardHelpOptions = true,
            description = "Push to a sink (or pull from a source) on S streams; prints Gbit/s as one JSON line.")
    static final class Cli implements LoadCli.Tool {
        @Option(names = "--target", required = true, converter = LoadCli.AddressConverter.class,
                description = "LoadServer address (sink mode for push, source mode for pull).")
        InetSocketAddress target;
        @Option(names = "--streams", defaultValue = "1", description = "Parallel connections (default ${DEFAULT-VALUE}).")
        int streams;
        @Option(names = "--direction", defaultValue = "push", description = "push (to a sink) or pull (from a source).")
        Direction direction;
        @Option(names = "--duration", defaultValue = "10s", converter = LoadCli.DurationConverter.class,
                description = "Measured time after the warm-up (default ${DEFAULT-VALUE}).")
        Duration duration;
        @Option(names = "--warmup", defaultValue = "1s", converter = LoadCli.DurationConverter.class,
                description = "Transfer not measured (default ${DEFAULT-VALUE}).")
        Duration warmup;
        @Option(names = "--chunk-size", defaultValue = "131072", description = "Bytes per write/read call.")
        int chunkSize;
        @Option(names = "--timeout", defaultValue = "5s", converter = LoadCli.DurationConverter.class,
                description = "Connect, read and drain timeout (default ${DEFAULT-VALUE}).")
        Duration timeout;

        @Override
        public Object call() throws Exception {
            try (MeasuredWindow window = MeasuredWindow.announce(warmup, duration, System.err)) {
                return run(new Config(target, streams, direction, duration, warmup, chunkSize, timeout));
            }
        }
    }
}
