package io.nodemesh.demo;

import io.nodemesh.cli.Vocabulary;
import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.discovery.Enrolment;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.PodWorkloads;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import io.nodemesh.topology.Topology;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * {@code nodemesh demo}: builds a throw-away node with two pods out of network namespaces, runs
 * the proxy and the telemetry agent on the embedded standalone config, sends real traffic from
 * one pod to the other, shows what the proxy saw and what the agent counted, and removes
 * everything it made, also when interrupted.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {
                "Show nodemesh at work in throw-away network namespaces (as root).",
                "Three captured pods and a service, real traffic through the proxy, what the proxy saw and the metrics the agent "
                        + "counted; everything it made is removed when it ends. Needs root."})
public final class DemoCommand implements Callable<Integer> {

    static final String CONFIG_TEMPLATE = "/demo-standalone.yaml";
    static final int BACKEND_PORT = 8080;
    static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);
    static final int SERVICE_CONNECTIONS = 40;

    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--connections", paramLabel = "N", description = "Connections to open (default: ${DEFAULT-VALUE}).")
    private int connections = 20;

    @Option(names = "--bytes", paramLabel = "N", description = "Bytes each connection sends and gets echoed back (default: ${DEFAULT-VALUE}).")
    private int bytes = 256 * 1024;

    @Option(names = "--transport", paramLabel = "KIND", description = "epoll, io_uring or nio (default: the config's epoll).")
    private String transport;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (connections < 1 || connections > 1000 || bytes < 1 || bytes > 64 * 1024 * 1024) {
            err.println("nodemesh demo: --connections must be 1..1000 and --bytes 1..67108864");
            return 2;
        }
        if (transport != null && TransportKind.parse(transport) == null) {
            err.println("nodemesh demo: --transport must be epoll, io_uring or nio, not '" + transport + "'");
            return 2;
        }
        String why = whyItCannotRun();
        if (why != null) {
            err.println("nodemesh demo: " + why);
            return 2;
        }
        Path work = Files.createTempDirectory("nodemesh-demo");
        Topology topology = new Topology("nmdemo" + ProcessHandle.current().pid() + "-");
        Session session = new Session(topology, work);
        Thread cleanup = new Thread(session::close, "nodemesh-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try {
            return run(session, out);
        } finally {
            session.close();
            Runtime.getRuntime().removeShutdownHook(cleanup);
            out.println();
            out.println("cleanup   proxy, agent, rules and namespaces removed ("
                    + (leftovers() ? "SOME LEFT: see `ip netns list`" : "`ip netns list` shows none of the demo's") + ")");
            out.flush();
        }
    }

    private int run(Session s, PrintWriter out) throws Exception {
        out.println("nodemesh demo: real traffic through the node proxy, in throw-away network namespaces");
        out.println();
        Lan lan = s.topology.lan("node");
        Netns frontend = lan.attach("frontend", "10.77.0.2/24", "fd77::2/64");
        Netns backend = lan.attach("backend", "10.77.0.3/24", "fd77::3/64");
        Netns backend2 = lan.attach("backend-2", "10.77.0.4/24", "fd77::4/64");
        s.echo = EchoServer.start(backend, BACKEND_PORT);
        s.echo2 = EchoServer.start(backend2, BACKEND_PORT);

        s.agent = TelemetryAgent.start(AgentConfig.builder()
                .socketPath(s.work.resolve("telemetry.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                .build());
        AtomicReference<NodeProxy> proxyRef = new AtomicReference<>();
        s.reporter = TelemetryReporter.start(ReporterConfig.builder()
                        .socketPath(s.agent.socketPath())
                        .node("demo-node")
                        .reporterId("demo-proxy")
                        .flushInterval(Duration.ofMillis(200))
                        .build(),
                new PodWorkloads(() -> {
                    NodeProxy p = proxyRef.get();
                    return p == null ? MeshSnapshot.empty() : p.snapshot();
                }));
        Path config = s.work.resolve("standalone.yaml");
        Files.writeString(config, renderConfig(frontend, backend, backend2));
        NodeProxy.Builder builder = NodeProxy.builder()
                .configFile(config)
                .sink(s.reporter)
                .admin(new InetSocketAddress("127.0.0.1", 0))
                .adminSocket(s.work.resolve("admin.sock"))
                .readiness(new InetSocketAddress("127.0.0.1", 0))
                .removeRulesOnStop(true);
        if (transport != null) {
            builder.transport(TransportKind.parse(transport));
        }
        s.proxy = builder.build();
        proxyRef.set(s.proxy);
        s.proxy.start();

        out.printf("topology  node netns %s with bridge br0 (no route off the machine)%n", lan.node().name());
        out.printf("          frontend  10.77.0.2  fd77::2  %s  captured%n", frontend.path());
        out.printf("          backend   10.77.0.3  fd77::3  %s  captured, echo server on :%d%n", backend.path(), BACKEND_PORT);
        out.printf("          backend-2 10.77.0.4  fd77::4  %s  captured, echo server on :%d%n", backend2.path(),
                BACKEND_PORT);
        out.printf("          namespace demo labelled %s=%s: its pods are captured; service demo/backend at %s:%d "
                + "-> both backends' :%d%n", Enrolment.KEY, Enrolment.ENABLED, ServiceTraffic.VIP.getHostAddress(),
                ServiceTraffic.PORT, BACKEND_PORT);
        out.printf("proxy     %s transport; listeners inside each pod's netns (:15001 outbound, :15006 inbound); admin http://%s/stats%n",
                s.proxy.transport(), HostPort.format(s.proxy.adminAddress()));
        out.printf("agent     reports on %s; metrics http://%s/metrics%n", s.agent.socketPath(), HostPort.format(s.agent.metricsAddress()));
        out.println();

        Traffic.Result traffic;
        // A line every few seconds on a large run; a small one ends before the first.
        try (Progress progress = new Progress(connections).printEvery(out, PROGRESS_EVERY)) {
            traffic = Traffic.run(frontend, backend, BACKEND_PORT, connections, bytes, progress);
        }
        out.printf("traffic   %d connections frontend -> backend:%d (%d over IPv4, %d over IPv6), %s each way%n",
                connections, BACKEND_PORT, traffic.ipv4(), traffic.ipv6(), Vocabulary.bytes(bytes));
        out.printf("          %d of %d echoed back intact (CRC32 of every byte checked) in %d ms%n",
                traffic.intact(), connections, traffic.elapsedMillis());
        if (traffic.stalled() > 0) {
            out.printf("          %d stalled: no byte came back for %d s, so the demo gave up on them%n",
                    traffic.stalled(), Traffic.STALL_MILLIS / 1000);
        }
        out.println();

        List<ClosedConnection> seen = Traffic.awaitClosed(s.proxy, 2L * connections, Duration.ofSeconds(10));
        ProxyReport.print(out, seen, s.proxy);
        out.println();

        MetricsReport.print(out, s.agent, 2L * connections, Duration.ofSeconds(5));
        out.println();

        ServiceTraffic.Result service = ServiceTraffic.run(frontend, s.proxy, List.of("demo/backend", "demo/backend-2"),
                SERVICE_CONNECTIONS);
        out.printf("service   %d connections frontend -> demo/backend at %s:%d, balanced by the proxy over its ready%n"
                + "          endpoints (power of two choices, least outstanding connections); taken by each:%n",
                SERVICE_CONNECTIONS, ServiceTraffic.VIP.getHostAddress(), ServiceTraffic.PORT);
        service.byEndpoint().forEach((pod, n) -> out.printf("          %-16s %3d%n", pod, n));
        out.printf("          %d of %d echoed back intact%n", service.intact(), SERVICE_CONNECTIONS);
        out.flush();
        boolean balanced = service.intact() == SERVICE_CONNECTIONS
                && service.byEndpoint().values().stream().allMatch(n -> n > 0);
        boolean ok = traffic.intact() == connections && balanced
                && seen.stream().filter(c -> c.direction() == Direction.OUTBOUND).count() >= connections;
        out.println();
        out.println(ok ? "result    OK: every connection was captured by the proxy and arrived intact"
                : "result    FAILED: see above");
        return ok ? 0 : 1;
    }

    private String renderConfig(Netns frontend, Netns backend, Netns backend2) throws IOException {
        String template;
        try (InputStream in = DemoCommand.class.getResourceAsStream(CONFIG_TEMPLATE)) {
            if (in == null) {
                throw new IOException("the jar lacks " + CONFIG_TEMPLATE);
            }
            template = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        return template.replace("${FRONTEND_NETNS}", frontend.path().toString())
                .replace("${BACKEND_NETNS}", backend.path().toString())
                .replace("${BACKEND2_NETNS}", backend2.path().toString());
    }

    private static String whyItCannotRun() {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
            return "needs Linux network namespaces; this is " + System.getProperty("os.name");
        }
        if (!Commands.run("id", "-u").stdout().strip().equals("0")) {
            return "needs root (it creates network namespaces and netfilter rules): run `bin/nodemesh demo` as root";
        }
        for (String tool : List.of("ip", "nsenter", "iptables-restore")) {
            if (!Commands.run("sh", "-c", "command -v " + tool).ok()) {
                return tool + " is not installed (bin/nodemesh installs iproute2, util-linux and iptables when run as root)";
            }
        }
        return null;
    }

    private static boolean leftovers() {
        String list = Commands.run("ip", "netns", "list").stdout();
        return list.contains("nmdemo" + ProcessHandle.current().pid() + "-");
    }

    /** Everything the demo started, closed once in reverse order (from the finally or the shutdown hook). */
    private static final class Session {
        private final Topology topology;
        private final Path work;
        private EchoServer echo;
        private EchoServer echo2;
        private TelemetryAgent agent;
        private TelemetryReporter reporter;
        private NodeProxy proxy;
        private boolean closed;

        Session(Topology topology, Path work) {
            this.topology = topology;
            this.work = work;
        }

        synchronized void close() {
            if (closed) {
                return;
            }
            closed = true;
            if (proxy != null) {
                proxy.close();
            }
            if (reporter != null) {
                reporter.close();
            }
            if (agent != null) {
                agent.close();
            }
            if (echo != null) {
                echo.close();
            }
            if (echo2 != null) {
                echo2.close();
            }
            topology.close();
            try (var files = Files.walk(work)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException ignored) {
                // a temp dir left behind is harmless
            }
        }
    }
}
