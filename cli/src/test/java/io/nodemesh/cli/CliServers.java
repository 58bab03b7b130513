package io.nodemesh.cli;

import io.nodemesh.proxy.admin.AdminServer;
import io.nodemesh.proxy.admin.ProxyView;
import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.NamespaceSpec;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import io.nodemesh.proxy.model.SpiffeId;
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
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The real servers the debugging commands talk to, on ephemeral ports, for the CLI's tests and its AOT training: the
 * proxy's {@link AdminServer} (on loopback and on a Unix socket) over a fixed proxy view whose snapshot holds a few pods
 * and a service, and a telemetry agent that has counted two pairs.
 */
final class CliServers implements AutoCloseable {

    /** The config file name the admin server reports. */
    static final String CONFIG_FILE = "/etc/nodemesh/cli-servers.yaml";
    /** A line of what the source follows, as the Kubernetes source gives it. */
    static final String WATCH_DETAIL = "pods of node node-a: 2 object(s), watching";

    private final AdminServer admin;
    private final TelemetryAgent agent;

    private CliServers(AdminServer admin, TelemetryAgent agent) {
        this.admin = admin;
        this.agent = agent;
    }

    /** Starts both; the agent's report socket goes into {@code dir}. Returns once the agent has counted its records. */
    static CliServers start(Path dir) throws IOException, InterruptedException {
        AdminServer admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), dir.resolve("admin.sock"),
                new FixedView());
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

    /** The admin server's Unix socket, as {@code --admin} takes it: {@code unix:PATH}. */
    String adminSocket() {
        return "unix:" + admin.socket();
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

    /**
     * What the fixed proxy recently closed, oldest first: a plaintext connection from a to a server outside the mesh
     * that the server reset, a to c through the tunnel, c to a through it, and a plaintext client outside the mesh
     * denied at a.
     */
    static final List<ClosedConnection> RECENT = List.of(
            new ClosedConnection(closed(Direction.OUTBOUND, "10.77.0.2:40001", "10.99.0.8:5432",
                    ConnectionPath.plaintext(id("demo", "a"), null), 100, Outcome.RESET).opening(), 100, 50, 3_000_000,
                    Outcome.RESET, false, Side.UPSTREAM),
            closed(Direction.OUTBOUND, "10.77.0.2:40000", "10.78.0.3:8080", ConnectionPath.tunnel(
                    HostPort.parse("10.78.0.3:15008"), true, id("demo", "a"), id("other", "c")), 2048, Outcome.OK),
            closed(Direction.INBOUND, "10.78.0.3:0", "10.77.0.2:8080", ConnectionPath.tunnel(
                    HostPort.parse("10.78.0.3:43122"), true, id("other", "c"), id("demo", "a")), 512, Outcome.OK),
            closed(Direction.INBOUND, "10.99.0.7:51000", "10.77.0.2:8080", ConnectionPath.plaintext(null,
                    id("demo", "a")), 0, Outcome.DENIED));

    private static NodeStats recentlyClosed() {
        NodeStats stats = new NodeStats();
        RECENT.forEach(stats::remember);
        return stats;
    }

    private static ClosedConnection closed(Direction direction, String source, String destination, ConnectionPath path,
            long bytes, Outcome outcome) {
        return new ClosedConnection(new OpenedConnection(direction, "demo", "a", "a", HostPort.parse(source),
                HostPort.parse(destination), System.currentTimeMillis(), path), bytes, bytes / 2, 3_000_000, outcome);
    }

    private static SpiffeId id(String namespace, String serviceAccount) {
        return new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, namespace, serviceAccount);
    }

    private static ClosedConnection closed(String pod, long bytes, Outcome outcome) {
        return new ClosedConnection(new OpenedConnection(Direction.OUTBOUND, "demo", pod, pod + "-sa",
                new InetSocketAddress("10.77.0.2", 40000), new InetSocketAddress("10.77.0.3", 8080),
                System.currentTimeMillis()), bytes, bytes / 2, 1_000_000, outcome);
    }

    /**
     * A proxy running NIO on {@link #CONFIG_FILE} with no capture open, whose snapshot knows {@code demo/a} (captured
     * here), {@code demo/ghost} (failed: no network namespace), {@code other/c} (on node-2) and the service
     * {@code demo/web} over a (ready) and c (not ready); it recently closed {@link #RECENT}.
     */
    private static final class FixedView implements ProxyView {
        private final NodeStats stats = recentlyClosed();
        private final Transport transport = Transport.select(TransportKind.NIO, notice -> { });
        private final ConfigStatus config = new ConfigStatus(CONFIG_FILE, System.currentTimeMillis(), null,
                List.of(WATCH_DETAIL));
        private final MeshSnapshot snapshot = fixedSnapshot();
        private final CaptureReport captures = new CaptureReport(List.of(
                new CaptureReport.Pod("demo", "a", CaptureState.CAPTURED, null),
                new CaptureReport.Pod("demo", "ghost", CaptureState.failed(CaptureFailure.NETNS_NOT_FOUND),
                        "cannot capture pod demo/ghost: network namespace /var/run/netns/ghost does not exist")),
                Map.of(CaptureFailure.NETNS_NOT_FOUND, 1L));

        private static MeshSnapshot fixedSnapshot() {
            PodSpec a = new PodSpec("a", "demo", "a", List.of(ip("10.77.0.2")), "node-1", Map.of("app", "web"),
                    Path.of("/var/run/netns/a"), true, true, List.of(), List.of(), List.of());
            PodSpec ghost = new PodSpec("ghost", "demo", "default", List.of(ip("10.77.0.9")), "node-1", Map.of(),
                    Path.of("/var/run/netns/ghost"), true, true, List.of(), List.of(), List.of());
            PodSpec c = new PodSpec("c", "other", "c", List.of(ip("10.78.0.3")), "node-2", Map.of("app", "web"), null,
                    false, false, List.of(), List.of(), List.of());
            ServiceSpec web = new ServiceSpec("demo", "web", List.of(ip("10.96.0.10")),
                    List.of(new ServiceSpec.Port("http", 80, "8080")),
                    List.of(new ServiceSpec.Endpoint(ip("10.77.0.2"), true, "demo/a", "node-1", Map.of("http", 8080)),
                            new ServiceSpec.Endpoint(ip("10.78.0.3"), false, "other/c", "node-2", Map.of("http", 8080))));
            return new MeshSnapshot(ProxySettings.defaults(), List.of(new NamespaceSpec("demo",
                    Map.of("nodemesh.io/capture", "enabled"))), List.of(a, ghost, c), List.of(web));
        }

        private static InetAddress ip(String literal) {
            return InetAddress.ofLiteral(literal);
        }

        @Override
        public MeshSnapshot snapshot() {
            return snapshot;
        }

        @Override
        public CaptureReport captures() {
            return captures;
        }

        @Override
        public List<io.nodemesh.proxy.identity.CertificateStatus> certificates() {
            return List.of();
        }

        @Override
        public BootSettings boot() {
            return BootSettings.defaults();
        }

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
