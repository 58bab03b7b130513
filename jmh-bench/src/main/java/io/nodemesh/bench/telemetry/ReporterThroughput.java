package io.nodemesh.bench.telemetry;

import io.nodemesh.proxy.telemetry.ClosedConnection;
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

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 10;
        int workloads = args.length > 1 ? Integer.parseInt(args[1]) : 200;
        int capacity = 1 << 16;
        Path dir = Files.createTempDirectory("telemetry-bench");
        Path socket = dir.resolve("t.sock");

        Map<InetAddress, WorkloadRef> pods = new HashMap<>();
        ClosedConnection[] connections = new ClosedConnection[workloads];
        for (int i = 0; i < workloads; i++) {
            InetAddress ip = InetAddress.getByAddress(new byte[] {10, 77, (byte) (i >> 8), (byte) i});
            pods.put(ip, new WorkloadRef("app-" + i, "ns-" + (i % 10), "sa-" + i));
            connections[i] = new ClosedConnection(ClosedConnection.Direction.OUTBOUND, "ns-" + (i % 10), "app-" + i
                    + "-pod", "sa-" + i, new InetSocketAddress(ip, 40_000 + i),
                    new InetSocketAddress(InetAddress.getByAddress(new byte[] {10, 77, 100, 1}), 8080),
                    1234, 5678, System.currentTimeMillis(), 2_000_000, ClosedConnection.Outcome.OK);
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
            // Warm-up: 3 s, not measured.
            produced = drive(reporter, agent, connections, produced, capacity, 3_000_000_000L);
            long startReceived = agent.selfMetrics().recordsReceived();
            long startCpu = cpu.getProcessCpuTime();
            long start = System.nanoTime();
            produced = drive(reporter, agent, connections, produced, capacity, seconds * 1_000_000_000L);
            long elapsed = System.nanoTime() - start;
            long received = agent.selfMetrics().recordsReceived() - startReceived;
            long cpuNanos = cpu.getProcessCpuTime() - startCpu;
            System.out.printf("records/s reporter -> agent: %.0f (%d records in %.2f s; %d workloads; dropped %d)%n",
                    received / (elapsed / 1e9), received, elapsed / 1e9, workloads, reporter.droppedRecords());
            // The machine may be shared: CPU time used tells how far the path is from its own limit.
            System.out.printf("process CPU: %.2f cores busy; %.0f records per CPU-second (producer included)%n",
                    cpuNanos / (double) elapsed, received / (cpuNanos / 1e9));
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
