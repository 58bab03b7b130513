package io.nodemesh.bench.telemetry;

import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.OpenedConnection;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.proxy.telemetry.WorkloadLookup;
import io.nodemesh.proxy.telemetry.WorkloadRef;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.LockSupport;

/**
 * Records per second through the whole telemetry path: {@code closed()} → bounded queue →
 * reporter thread (mapping, protobuf) → gRPC over a Unix socket → agent validation and
 * aggregation into Istio series. One producer thread keeps at most half the buffer in flight so
 * the figure is the sustainable rate with zero drops, not the rate of dropping.
 *
 * <p>Run: {@code java -cp <classpath> io.nodemesh.bench.telemetry.ReporterThroughput [seconds] [workloads]}
 */
public final class ReporterThroughput {

    private ReporterThroughput() {
    }

    /**
     * One measured run.
     *
     * @param seconds measured seconds asked for
     * @param workloads distinct workloads the records rotate through
     * @param records records the agent received while measuring
     * @param elapsedNanos measured wall time
     * @param cpuNanos this process's CPU time meanwhile (producer, reporter, gRPC, agent)
     * @param dropped records the reporter dropped since it started (0 when the rate was sustainable)
     * @param loadAverage the host's 1-minute load average at the end (the machine may be shared)
     */
    public record Result(int seconds, int workloads, long records, long elapsedNanos, long cpuNanos, long dropped,
            double loadAverage) {

        /** Records per second, reporter to agent. */
        public double recordsPerSecond() {
            return records / (elapsedNanos / 1e9);
        }

        /** Cores this process kept busy on average. */
        public double coresBusy() {
            return cpuNanos / (double) elapsedNanos;
        }

        /** Records per CPU-second of the whole process (producer included). */
        public double recordsPerCpuSecond() {
            return records / (cpuNanos / 1e9);
        }
    }

    /** The buffer the reporter runs with. */
    public static final int CAPACITY = 1 << 16;
    /** Unmeasured warm-up before each run. */
    public static final int WARMUP_SECONDS = 3;

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int workloads = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        Result r = measure(seconds, workloads);
        System.out.printf("records/s reporter -> agent: %.0f (%d records in %.2f s; %d workloads; dropped %d)%n",
                r.recordsPerSecond(), r.records(), r.elapsedNanos() / 1e9, workloads, r.dropped());
        // The machine may be shared: CPU time used tells how far the path is from its own limit.
        System.out.printf("process CPU: %.2f cores busy; %.0f records per CPU-second (producer included)%n",
                r.coresBusy(), r.recordsPerCpuSecond());
    }

    /** Starts an agent and a reporter in this JVM, warms up for {@link #WARMUP_SECONDS}, then measures {@code seconds}. */
    public static Result measure(int seconds, int workloads) throws Exception {
        if (seconds <= 0 || workloads <= 0 || workloads > 65_536) {
            throw new IllegalArgumentException("seconds must be > 0 and workloads 1..65536, got " + seconds + " and " + workloads);
        }
        int capacity = CAPACITY;
        Path dir = Files.createTempDirectory("telemetry-bench");
        Path socket = dir.resolve("t.sock");

        Map<InetAddress, WorkloadRef> pods = new HashMap<>();
        ClosedConnection[] connections = new ClosedConnection[workloads];
        for (int i = 0; i < workloads; i++) {
            InetAddress ip = InetAddress.getByAddress(new byte[] {10, 77, (byte) (i >> 8), (byte) i});
            pods.put(ip, new WorkloadRef("app-" + i, "ns-" + (i % 10), "sa-" + i));
            connections[i] = new ClosedConnection(new OpenedConnection(ClosedConnection.Direction.OUTBOUND, "ns-" + (i % 10),
                    "app-" + i + "-pod", "sa-" + i, new InetSocketAddress(ip, 40_000 + i),
                    new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 77, 100, 1}), 8080),
                    System.currentTimeMillis()), 1234, 5678, 2_000_000, ClosedConnection.Outcome.OK);
        }
        WorkloadLookup lookup = new WorkloadLookup() {
            @Override
            public WorkloadRef workloadAt(InetAddress address) {
                return pods.get(address);
            }

            @Override
            public String serviceAt(InetSocketAddress destination) {
                return "backend.default.svc.cluster.local";
            }
        };

        com.sun.management.OperatingSystemMXBean cpu = (com.sun.management.OperatingSystemMXBean)
                java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        try (TelemetryAgent agent = TelemetryAgent.start(AgentConfig.builder().socketPath(socket)
                        .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build());
                TelemetryReporter reporter = TelemetryReporter.start(ReporterConfig.builder().socketPath(socket)
                        .bufferCapacity(capacity).build(), lookup)) {
            long produced = 0;
            produced = drive(reporter, agent, connections, produced, capacity, WARMUP_SECONDS * 1_000_000_000L);
            long startReceived = agent.selfMetrics().recordsReceived();
            long startCpu = cpu.getProcessCpuTime();
            long start = System.nanoTime();
            drive(reporter, agent, connections, produced, capacity, seconds * 1_000_000_000L);
            long elapsed = System.nanoTime() - start;
            long received = agent.selfMetrics().recordsReceived() - startReceived;
            long cpuNanos = cpu.getProcessCpuTime() - startCpu;
            return new Result(seconds, workloads, received, elapsed, cpuNanos, reporter.droppedRecords(),
                    cpu.getSystemLoadAverage());
        } finally {
            // Best effort: a leftover temp directory must not turn a finished measurement into a failure.
            try {
                Files.deleteIfExists(socket);
                Files.deleteIfExists(dir);
            } catch (java.io.IOException e) {
                System.err.println("ReporterThroughput: could not remove " + dir + ": " + e);
            }
        }
    }

    private static long drive(TelemetryReporter reporter, TelemetryAgent agent, ClosedConnection[] connections,
            long produced, int capacity, long nanos) {
        long end = System.nanoTime() + nanos;
        int i = 0;
        while (System.nanoTime() < end) {
            // Keep at most half the buffer in flight: measure delivery, not dropping.
            if (produced - agent.selfMetrics().recordsReceived() > capacity / 2) {
                LockSupport.parkNanos(50_000);
                continue;
            }
            for (int k = 0; k < 256; k++) {
                reporter.closed(connections[i]);
                i = i + 1 == connections.length ? 0 : i + 1;
            }
            produced += 256;
        }
        return produced;
    }
}
