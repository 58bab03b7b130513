package io.nodemesh.bench.telemetry;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.OpenedConnection;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.proxy.telemetry.WorkloadLookup;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link TelemetryReporter#closed}: what the data path pays per finished connection, with no agent
 * listening (the reporter thread keeps draining, mapping and dropping, as it does while the agent
 * is away). {@code -prof gc} counts the whole JVM, so it includes the reporter thread's mapping;
 * the {@code callerBytesPerOp} counter is what the calling (event-loop) thread itself allocated per
 * call, from {@code ThreadMXBean.getCurrentThreadAllocatedBytes}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "-XX:+UseCompactObjectHeaders"})
public class ClosedOfferBenchmark {

    /** Buffer capacity: the default 16 Ki, and a small one that is full nearly all the time (the drop path). */
    @Param({"16384", "1024"})
    public int capacity;

    private Path dir;
    private TelemetryReporter reporter;
    private ClosedConnection connection;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("closed-offer-bench");
        // A socket path nobody listens on: the agent is away for the whole run.
        reporter = TelemetryReporter.start(ReporterConfig.builder().socketPath(dir.resolve("absent.sock"))
                .bufferCapacity(capacity).batchSize(Math.min(512, capacity)).build(), WorkloadLookup.NONE);
        connection = new ClosedConnection(new OpenedConnection(Direction.OUTBOUND, "ns", "app-pod", "sa",
                new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 77, 0, 2}), 40_000),
                new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 77, 0, 3}), 8080),
                System.currentTimeMillis()), 1234, 5678, 2_000_000, Outcome.OK);
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        reporter.close();
        Files.deleteIfExists(dir.resolve("absent.sock"));
        Files.deleteIfExists(dir);
    }

    /** Bytes the benchmark thread itself allocates, reported per operation by JMH as a secondary result. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.EVENTS)
    public static class CallerAllocation {
        private static final com.sun.management.ThreadMXBean THREADS =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        private long startBytes;
        private long calls;
        /** Caller-thread bytes per {@code closed()} call in this iteration. */
        public double callerBytesPerOp;

        @Setup(Level.Iteration)
        public void start() {
            calls = 0;
            startBytes = THREADS.getCurrentThreadAllocatedBytes();
        }

        @TearDown(Level.Iteration)
        public void stop() {
            long bytes = THREADS.getCurrentThreadAllocatedBytes() - startBytes;
            callerBytesPerOp = calls == 0 ? 0 : (double) bytes / calls;
        }
    }

    @Benchmark
    public void closed(CallerAllocation alloc) {
        reporter.closed(connection);
        alloc.calls++;
    }
}
