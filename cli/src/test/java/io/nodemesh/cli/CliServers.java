package io.nodemesh.cli;

import io.nodemesh.proxy.admin.AdminServer;
import io.nodemesh.proxy.admin.ProxyView;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.stats.NodeStats;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.OpenedConnection;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.proxy.telemetry.WorkloadLookup;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The real servers the debugging commands talk to, on ephemeral ports, for the CLI's tests and its AOT training: the
 * proxy's {@link AdminServer} over a fixed proxy view with no pods, and a telemetry agent that has counted two pairs.
 */
final class CliServers implements AutoCloseable {

    /** The config file name the admin server reports. */
    static final String CONFIG_FILE = "/etc/nodemesh/cli-servers.yaml";

    private final AdminServer admin;
    private final TelemetryAgent agent;

    private CliServers(AdminServer admin, TelemetryAgent agent) {
        this.admin = admin;
        this.agent = agent;
    }

    /** Starts both; the agent's report socket goes into {@code dir}. Returns once the agent has counted its records. */
    static CliServers start(Path dir) throws IOException, InterruptedException {
        AdminServer admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), new FixedView());
        TelemetryAgent agent = null;
        try {
            Path socket = dir.resolve("telemetry.sock");
            agent = TelemetryAgent.start(AgentConfig.builder().socketPath(socket)
                    .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build());
            try (TelemetryReporter reporter = TelemetryReporter.start(ReporterConfig.builder().socketPath(socket)
                    .flushInterval(Duration.ofMillis(20)).build(), WorkloadLookup.NONE)) {
                reporter.closed(closed("busy", 1_000_000, Outcome.OK));
                reporter.closed(closed("quiet", 10, Outcome.REFUSED));
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (agent.selfMetrics().recordsReceived() < 2 && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
            }
            if (agent.selfMetrics().recordsReceived() < 2) {
                throw new IOException("the telemetry agent counted " + agent.selfMetrics().recordsReceived()
                        + " of 2 records in 10 s");
            }
            return new CliServers(admin, agent);
        } catch (IOException | InterruptedException | RuntimeException e) {
            if (agent != null) {
                agent.close();
            }
            admin.close();
            throw e;
        }
    }

    /** The admin server's HOST:PORT, as {@code --admin} takes it. */
    String admin() {
        return "127.0.0.1:" + admin.address().getPort();
    }

    /** The agent's HOST:PORT, as {@code top --metrics-address} takes it. */
    String agent() {
        return "127.0.0.1:" + agent.metricsAddress().getPort();
    }

    @Override
    public void close() {
        try {
            agent.close();
        } finally {
            admin.close();
        }
    }

    private static ClosedConnection closed(String pod, long bytes, Outcome outcome) {
        return new ClosedConnection(new OpenedConnection(Direction.OUTBOUND, "demo", pod, pod + "-sa",
                new InetSocketAddress("10.77.0.2", 40000), new InetSocketAddress("10.77.0.3", 8080),
                System.currentTimeMillis()), bytes, bytes / 2, 1_000_000, outcome);
    }

    /** A proxy with no pods, running NIO on {@link #CONFIG_FILE}. */
    private static final class FixedView implements ProxyView {
        private final NodeStats stats = new NodeStats();
        private final Transport transport = Transport.select(TransportKind.NIO, notice -> { });
        private final ConfigStatus config = new ConfigStatus(CONFIG_FILE, System.currentTimeMillis(), null);

        @Override
        public List<PodCapture> pods() {
            return List.of();
        }

        @Override
        public NodeStats nodeStats() {
            return stats;
        }

        @Override
        public Transport transport() {
            return transport;
        }

        @Override
        public ConfigStatus config() {
            return config;
        }
    }
}
