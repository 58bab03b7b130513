package io.nodemesh.bench.telemetry;

import io.nodemesh.bench.harness.ProcessSample;
import io.nodemesh.bench.harness.ProxyJvmFlags;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.WorkloadRef;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.OpenedConnection;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.proxy.telemetry.WorkloadLookup;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import io.nodemesh.telemetry.http.MetricsScrape;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;

/**
 * Records per second through the whole telemetry path: {@code closed()} → bounded queue →
 * reporter thread (mapping, protobuf) → gRPC over a Unix socket → agent validation and
 * aggregation into Istio series. One producer thread keeps at most half the buffer queued so
 * the figure is the sustainable rate with zero drops, not the rate of dropping.
 *
 * <p>Two set-ups: {@link #measure} runs the agent in this JVM; {@link #measureWithAgentProcess} runs it as the node
 * does, its own process started as {@code bin/nodemesh agent} starts it ({@link ProxyJvmFlags#AGENT}), with
 * the reporter in this JVM as in the proxy.
 *
 * <p>Run: {@code java -cp <classpath> io.nodemesh.bench.telemetry.ReporterThroughput [seconds] [workloads] [nodemesh.jar]}
 * (with the jar: the agent in its own process)
 */
public final class ReporterThroughput {

    private ReporterThroughput() {
    }

    /** The set-up of {@link #measure}. */
    public static final String IN_PROCESS = "agent in the same JVM";
    /** The set-up of {@link #measureWithAgentProcess}. */
    public static final String AGENT_PROCESS = "agent in its own process, as bin/nodemesh agent runs it";

    /**
     * One measured run.
     *
     * @param seconds measured seconds asked for
     * @param workloads distinct workloads the records rotate through
     * @param records records the agent received while measuring
     * @param elapsedNanos measured wall time
     * @param cpuNanos CPU time meanwhile of this process (producer, reporter, gRPC, and the agent when in process) and
     *        of the agent process when it is one
     * @param dropped records the reporter dropped since it started (0 when the rate was sustainable)
     * @param loadAverage the host's 1-minute load average at the end (the machine may be shared)
     * @param setup {@link #IN_PROCESS} or {@link #AGENT_PROCESS}
     */
    public record Result(int seconds, int workloads, long records, long elapsedNanos, long cpuNanos, long dropped,
            double loadAverage, String setup) {

        /** Records per second, reporter to agent. */
        public double recordsPerSecond() {
            return records / (elapsedNanos / 1e9);
        }

        /** Cores the processes kept busy on average. */
        public double coresBusy() {
            return cpuNanos / (double) elapsedNanos;
        }

        /** Records per CPU-second of the whole path (producer included). */
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
        Result r = args.length > 2 ? measureWithAgentProcess(seconds, workloads, Path.of(args[2]))
                : measure(seconds, workloads);
        System.out.printf("records/s reporter -> agent (%s): %.0f (%d records in %.2f s; %d workloads; dropped %d)%n",
                r.setup(), r.recordsPerSecond(), r.records(), r.elapsedNanos() / 1e9, workloads, r.dropped());
        // The machine may be shared: CPU time used tells how far the path is from its own limit.
        System.out.printf("CPU: %.2f cores busy; %.0f records per CPU-second (producer included)%n",
                r.coresBusy(), r.recordsPerCpuSecond());
    }

    /** Starts an agent and a reporter in this JVM, warms up for {@link #WARMUP_SECONDS}, then measures {@code seconds}. */
    public static Result measure(int seconds, int workloads) throws Exception {
        check(seconds, workloads);
        Path dir = Files.createTempDirectory("telemetry-bench");
        Path socket = dir.resolve("t.sock");
        Load load = new Load(workloads);
        try (TelemetryAgent agent = TelemetryAgent.start(AgentConfig.builder().socketPath(socket)
                        .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build());
                TelemetryReporter reporter = TelemetryReporter.start(ReporterConfig.builder().socketPath(socket)
                        .bufferCapacity(CAPACITY).build(), load.lookup)) {
            return run(seconds, workloads, reporter, load, () -> agent.selfMetrics().recordsReceived(), () -> 0,
                    IN_PROCESS);
        } finally {
            removeQuietly(socket, dir);
        }
    }

    /**
     * Starts {@code nodemesh agent} from {@code nodemeshJar} as its own process with {@link ProxyJvmFlags#AGENT} and the
     * reporter in this JVM, warms up for {@link #WARMUP_SECONDS}, then measures {@code seconds}. The records received
     * are the agent's own count ({@code nodemesh_agent_records_received_total} scraped from its {@code /metrics});
     * the CPU is both processes'.
     */
    public static Result measureWithAgentProcess(int seconds, int workloads, Path nodemeshJar) throws Exception {
        check(seconds, workloads);
        if (!Files.isRegularFile(nodemeshJar)) {
            throw new IllegalArgumentException(nodemeshJar + " is not there: build it first (mvn -B -DskipTests package)");
        }
        Path dir = Files.createTempDirectory("telemetry-bench");
        Path socket = dir.resolve("t.sock");
        InetSocketAddress metrics = new InetSocketAddress(InetAddress.getLoopbackAddress(), freePort());
        List<String> argv = new ArrayList<>(ProxyJvmFlags.agentJava(
                Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        argv.addAll(List.of("-jar", nodemeshJar.toString(), "agent", "--socket", socket.toString(), "--metrics-address",
                metrics.getAddress().getHostAddress() + ":" + metrics.getPort()));
        Process agent = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(dir.resolve("agent.log").toFile())
                .start();
        Load load = new Load(workloads);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!Files.exists(socket)) {
                if (!agent.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException("the agent did not open " + socket + ": "
                            + Files.readString(dir.resolve("agent.log")).strip());
                }
                Thread.sleep(20);
            }
            long clockTicks = ProcessSample.clockTicksPerSecond();
            LongSupplier agentCpuNanos = () -> {
                try {
                    return ProcessSample.of(agent.pid()).cpuTicks() * 1_000_000_000L / clockTicks;
                } catch (IOException e) {
                    throw new IllegalStateException("the agent process is gone", e);
                }
            };
            try (TelemetryReporter reporter = TelemetryReporter.start(ReporterConfig.builder().socketPath(socket)
                    .bufferCapacity(CAPACITY).build(), load.lookup)) {
                return run(seconds, workloads, reporter, load, () -> recordsReceived(metrics), agentCpuNanos,
                        AGENT_PROCESS);
            }
        } finally {
            agent.destroy();
            if (!agent.waitFor(10, TimeUnit.SECONDS)) {
                agent.destroyForcibly();
            }
            Files.deleteIfExists(dir.resolve("agent.log"));
            removeQuietly(socket, dir);
        }
    }

    private static Result run(int seconds, int workloads, TelemetryReporter reporter, Load load, LongSupplier received,
            LongSupplier otherCpuNanos, String setup) {
        com.sun.management.OperatingSystemMXBean cpu = (com.sun.management.OperatingSystemMXBean)
                ManagementFactory.getOperatingSystemMXBean();
        drive(reporter, load, WARMUP_SECONDS * 1_000_000_000L);
        long startReceived = received.getAsLong();
        long startCpu = cpu.getProcessCpuTime() + otherCpuNanos.getAsLong();
        long start = System.nanoTime();
        drive(reporter, load, seconds * 1_000_000_000L);
        long endReceived = received.getAsLong();
        long elapsed = System.nanoTime() - start;
        long cpuNanos = cpu.getProcessCpuTime() + otherCpuNanos.getAsLong() - startCpu;
        return new Result(seconds, workloads, endReceived - startReceived, elapsed, cpuNanos, reporter.droppedRecords(),
                cpu.getSystemLoadAverage(), setup);
    }

    /** Offers records as fast as the reporter takes them, keeping at most half the buffer queued (no drops). */
    private static void drive(TelemetryReporter reporter, Load load, long nanos) {
        long end = System.nanoTime() + nanos;
        int i = 0;
        ClosedConnection[] connections = load.connections;
        while (System.nanoTime() < end) {
            if (reporter.queuedEvents() > CAPACITY / 2) {
                LockSupport.parkNanos(50_000);
                continue;
            }
            for (int k = 0; k < 256; k++) {
                reporter.closed(connections[i]);
                i = i + 1 == connections.length ? 0 : i + 1;
            }
        }
    }

    /** The agent's own count of connection records received, from its {@code /metrics}. */
    static long recordsReceived(InetSocketAddress metrics) {
        try {
            return (long) MetricsScrape.value(MetricsScrape.fetch(metrics), "nodemesh_agent_records_received_total",
                    "kind=\"connection\"");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while scraping the agent at " + metrics, e);
        } catch (IOException e) {
            throw new IllegalStateException("cannot scrape the agent at " + metrics + ": " + e, e);
        }
    }

    /** Closed connections from {@code workloads} pods to one service, and the lookup that names them. */
    private static final class Load {
        final ClosedConnection[] connections;
        final WorkloadLookup lookup;

        Load(int workloads) throws IOException {
            Map<InetAddress, WorkloadRef> pods = new HashMap<>();
            connections = new ClosedConnection[workloads];
            InetAddress service = InetAddress.getByAddress(new byte[] {10, 77, 100, 1});
            for (int i = 0; i < workloads; i++) {
                InetAddress ip = InetAddress.getByAddress(new byte[] {10, 77, (byte) (i >> 8), (byte) i});
                pods.put(ip, new WorkloadRef("app-" + i, "ns-" + (i % 10), "sa-" + i));
                connections[i] = new ClosedConnection(new OpenedConnection(Direction.OUTBOUND,
                        "ns-" + (i % 10), "app-" + i + "-pod", "sa-" + i, new InetSocketAddress(ip, 40_000 + i),
                        new InetSocketAddress(service, 8080), System.currentTimeMillis()),
                        1234, 5678, 2_000_000, Outcome.OK);
            }
            lookup = new WorkloadLookup() {
                @Override
                public WorkloadRef workloadAt(InetAddress address) {
                    return pods.get(address);
                }

                @Override
                public String serviceAt(InetSocketAddress destination) {
                    return "backend.default.svc.cluster.local";
                }
            };
        }
    }

    private static void check(int seconds, int workloads) {
        if (seconds <= 0 || workloads <= 0 || workloads > 65_536) {
            throw new IllegalArgumentException("seconds must be > 0 and workloads 1..65536, got " + seconds + " and " + workloads);
        }
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    // Best effort: a leftover temp directory must not turn a finished measurement into a failure.
    private static void removeQuietly(Path socket, Path dir) {
        try {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            System.err.println("ReporterThroughput: could not remove " + dir + ": " + e);
        }
    }
}
