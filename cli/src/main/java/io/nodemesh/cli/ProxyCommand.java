package io.nodemesh.cli;

import io.nodemesh.discovery.kubernetes.CgroupFinder;
import io.nodemesh.discovery.kubernetes.KubernetesSource;
import io.nodemesh.discovery.kubernetes.NetnsFinder;
import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.inpod.NetnsScanner;
import io.nodemesh.proxy.telemetry.ConnectionSink;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.CaptureMode;
import io.nodemesh.rules.RulesException;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code nodemesh proxy}: runs the node proxy on a standalone config file, or on the Kubernetes API with
 * {@code --kubernetes}, until SIGTERM or SIGINT, then stops accepting and drains. Exit status 2 when the config
 * file is unusable or the API cannot be synced at start.
 */
@Command(name = "proxy",
        mixinStandardHelpOptions = true,
        description = {
                "Run the node proxy: capture pods and relay their connections.",
                "Captures the pods listed in the standalone config file (listeners inside each pod's network "
                        + "namespace, redirect rules), relays their connections and serves the admin API, following "
                        + "changes to the file, until SIGTERM/SIGINT; then it drains and exits.",
                "With --kubernetes the mesh comes from the Kubernetes API instead: this node's pods in namespaces "
                        + "labelled nodemesh.io/capture=enabled are captured, running ones found by their address; "
                        + "--config then holds only the proxy section.",
                "Config format: see standalone-example.yaml in the nodemesh jar."})
public final class ProxyCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Standalone YAML config file; with --kubernetes, the proxy's settings "
                    + "(its proxy section only).")
    private Path config;

    @Option(names = "--kubernetes",
            description = "Follow the Kubernetes API (namespaces, this node's pods, services, EndpointSlices).")
    private boolean kubernetes;

    @Option(names = "--kubeconfig", paramLabel = "FILE",
            description = "With --kubernetes: the kubeconfig to use (default: in a pod its service account, else "
                    + "$KUBECONFIG or ~/.kube/config).")
    private Path kubeconfig;

    @Option(names = "--node-name", paramLabel = "NAME",
            description = "With --kubernetes: this node's name (default: $NODE_NAME, from the downward API's "
                    + "spec.nodeName).")
    private String nodeName;

    @Option(names = "--transport", paramLabel = "epoll|io_uring|nio",
            description = "Netty transport (overrides proxy.transport; default epoll, falling back when unavailable).")
    private String transport;

    @Option(names = "--capture", paramLabel = "redirect|tproxy|ebpf",
            description = "How captured TCP reaches the proxy (overrides proxy.capture; default redirect; tproxy "
                    + "needs the epoll transport and rules nft or none; ebpf the epoll transport, rules nft, a bpf "
                    + "filesystem at --bpffs and each pod's cgroup: a pod entry's cgroup, or with --kubernetes found "
                    + "under --cgroup-root).")
    private String capture;

    @Option(names = "--admin", paramLabel = "HOST:PORT",
            description = "Admin HTTP address (overrides proxy.admin; default 127.0.0.1:15000, port 0 = any).")
    private String admin;

    @Option(names = "--admin-socket", paramLabel = "PATH",
            description = "The admin API's Unix socket, owner-only (overrides proxy.adminSocket; default "
                    + "/var/run/nodemesh/admin.sock).")
    private Path adminSocket;

    @Option(names = "--readiness", paramLabel = "HOST:PORT",
            description = "The readiness probe, GET /healthz/ready (overrides proxy.readiness; default 127.0.0.1:15021).")
    private String readiness;

    @Option(names = "--workers", paramLabel = "N",
            description = "Event-loop threads (overrides proxy.workers; default: number of cores).")
    private Integer workers;

    @Option(names = "--remove-rules-on-exit",
            description = "Remove the pods' redirect rules after draining on exit (default: keep them, fail closed).")
    private boolean removeRulesOnExit;

    @Option(names = "--telemetry-socket", paramLabel = "PATH",
            description = "The telemetry agent's Unix socket; the proxy reports every finished connection there "
                    + "and keeps retrying while the agent is away (default: ${DEFAULT-VALUE}).")
    private Path telemetrySocket = AgentConfig.DEFAULT_SOCKET;

    @Option(names = "--no-telemetry", description = "Report nothing to a telemetry agent.")
    private boolean noTelemetry;

    @Option(names = "--agent-in-process",
            description = "Host the telemetry agent in this process (one JVM per node instead of two), on its own "
                    + "threads, --nice-increment levels below the proxy's; the proxy hands it its reports directly "
                    + "(no socket, no gRPC), and it takes the agent's options below.")
    private boolean agentInProcess;

    @Mixin
    private AgentOptions agentOptions = new AgentOptions();

    /** Where the CNI plugin finds the proxy by default (docs/cni.md). */
    static final Path DEFAULT_CNI_SOCKET = Path.of("/var/run/nodemesh/cni.sock");

    /** Where container runtimes and {@code ip netns} bind-mount network namespaces. */
    static final Path NETNS_DIR = Path.of("/var/run/netns");

    @Option(names = "--cni-socket", paramLabel = "PATH",
            description = "Open the control socket the nodemesh CNI plugin hands new pods over on (default with "
                    + "--kubernetes: " + "/var/run/nodemesh/cni.sock; standalone: none unless given).")
    private Path cniSocket;

    @Option(names = "--cni-enrolment-file", paramLabel = "PATH",
            description = "Where the enrolled namespaces are written for the CNI plugin (default: enrolment.json "
                    + "beside the CNI socket).")
    private Path enrolmentFile;

    @Option(names = "--handover-socket", paramLabel = "PATH",
            description = "The upgrade socket (docs/upgrade.md): at start, take the pods' listeners and plain "
                    + "connections over from the proxy listening there, then listen there for the next one "
                    + "(default: handover.sock beside the CNI socket; none without one).")
    private Path handoverSocket;

    @Option(names = "--keeper-socket", paramLabel = "PATH",
            description = "The listener keeper's socket (nodemesh-keeper, docs/upgrade.md): give it every captured "
                    + "pod's listeners, so they go on listening while this proxy restarts, and at start, when no proxy "
                    + "answers at the handover socket, take them over from it (default: keeper.sock beside the CNI "
                    + "socket; none without one).")
    private Path keeperSocket;

    @Option(names = "--no-cni", description = "With --kubernetes: no CNI control socket, no enrolment file.")
    private boolean noCni;

    @Option(names = "--host-proc", paramLabel = "DIR",
            description = "With --kubernetes: the host's /proc, where running pods' network namespaces are looked "
                    + "for (in a DaemonSet the host's /proc mounted read-only, the pod's own shows only the pod; "
                    + "default: ${DEFAULT-VALUE}).")
    private Path hostProc = Path.of("/proc");

    @Option(names = "--cgroup-root", paramLabel = "DIR",
            description = "With --kubernetes and capture ebpf: the host's cgroup v2 hierarchy, where each pod's cgroup "
                    + "is looked for by its uid (in a DaemonSet the host's /sys/fs/cgroup mounted read-only: a "
                    + "container's own shows only itself; default: ${DEFAULT-VALUE}).")
    private Path cgroupRoot = Path.of("/sys/fs/cgroup");

    @Option(names = "--bpffs", paramLabel = "DIR",
            description = "With capture ebpf: a bpf filesystem, where each pod's inbound program is pinned so that it "
                    + "outlives the proxy (in a DaemonSet the host's /sys/fs/bpf; default: ${DEFAULT-VALUE}).")
    private Path bpffs = Path.of("/sys/fs/bpf");

    private final ConnectionSink sink;
    private final Function<String, String> environment;
    private final CountDownLatch stop = new CountDownLatch(1);
    private volatile NodeProxy proxy;

    /** A command whose proxy reports to the telemetry agent on {@code --telemetry-socket}. */
    public ProxyCommand() {
        this(null, System::getenv);
    }

    /** A command whose proxy reports every finished connection to {@code sink} instead (tests, embedding). */
    public ProxyCommand(ConnectionSink sink) {
        this(java.util.Objects.requireNonNull(sink, "sink"), System::getenv);
    }

    /** A command reading its environment ({@code NODE_NAME}) from {@code environment} (tests). */
    ProxyCommand(ConnectionSink sink, Function<String, String> environment) {
        this.sink = sink;
        this.environment = environment;
    }

    /** {@code --capture}, checked: null when not given. */
    private CaptureMode captureMode() {
        if (capture == null) {
            return null;
        }
        CaptureMode mode;
        try {
            mode = CaptureMode.parse(capture);
        } catch (RulesException e) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--capture: '" + capture + "' is not one of redirect, tproxy, ebpf");
        }
        return mode;
    }

    @Override
    public Integer call() throws InterruptedException {
        NodeProxy.Builder builder = NodeProxy.builder().removeRulesOnStop(removeRulesOnExit).bpffs(bpffs);
        if (kubernetes) {
            builder.source(kubernetesSource());
        } else if (config != null) {
            if (kubeconfig != null || nodeName != null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--kubeconfig and --node-name go with --kubernetes");
            }
            builder.configFile(config);
        } else {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "a source is required: --config FILE (standalone) or --kubernetes");
        }
        Path socket = cniSocket != null ? cniSocket : kubernetes && !noCni ? DEFAULT_CNI_SOCKET : null;
        if (socket != null && noCni) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--cni-socket and --no-cni contradict");
        }
        if (socket != null) {
            socket = socket.toAbsolutePath();
            builder.cniSocket(socket).enrolmentFile(enrolmentFile != null ? enrolmentFile.toAbsolutePath()
                    : socket.resolveSibling("enrolment.json"));
        } else if (enrolmentFile != null) {
            builder.enrolmentFile(enrolmentFile.toAbsolutePath());
        }
        Path handover = handoverSocket != null ? handoverSocket
                : socket != null ? socket.resolveSibling("handover.sock") : null;
        if (handover != null) {
            builder.handoverSocket(handover.toAbsolutePath());
        }
        Path keeper = keeperSocket != null ? keeperSocket
                : socket != null ? socket.resolveSibling("keeper.sock") : null;
        if (keeper != null) {
            builder.keeperSocket(keeper.toAbsolutePath());
        }
        if (agentInProcess && (sink != null || noTelemetry)) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--agent-in-process and --no-telemetry contradict");
        }
        if (agentInProcess && spec.commandLine().getParseResult().hasMatchedOption("--telemetry-socket")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--telemetry-socket: the agent in this "
                    + "process takes the proxy's reports directly, without a socket (drop the option, or run "
                    + "'nodemesh agent' apart)");
        }
        for (String name : AgentOptions.NAMES) {
            if (!agentInProcess && spec.commandLine().getParseResult().hasMatchedOption(name)) {
                throw new CommandLine.ParameterException(spec.commandLine(), name + " is the telemetry agent's: it "
                        + "goes with --agent-in-process (or on 'nodemesh agent')");
            }
        }
        if (sink != null) {
            builder.sink(sink);
        } else if (!noTelemetry && !agentInProcess) {
            builder.telemetry(ReporterConfig.builder().socketPath(telemetrySocket).build());
        } // with --agent-in-process the reports go to the agent's intake once it runs (run())
        return run(builder);
    }

    private int run(NodeProxy.Builder builder) throws InterruptedException {
        if (transport != null) {
            TransportKind kind = TransportKind.parse(transport);
            if (kind == null) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--transport: '" + transport + "' is not one of epoll, io_uring, nio");
            }
            builder.transport(kind);
        }
        CaptureMode mode = captureMode();
        if (mode != null) {
            builder.capture(mode);
        }
        if (admin != null) {
            try {
                builder.admin(HostPort.parse(admin));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--admin: " + e.getMessage());
            }
        }
        if (adminSocket != null) {
            builder.adminSocket(adminSocket.toAbsolutePath());
        }
        if (readiness != null) {
            try {
                builder.readiness(HostPort.parse(readiness));
            } catch (IllegalArgumentException e) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--readiness: " + e.getMessage());
            }
        }
        if (workers != null) {
            if (workers < 1) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--workers: must be at least 1");
            }
            builder.workers(workers);
        }
        PrintWriter err = spec.commandLine().getErr();
        TelemetryAgent hosted = null;
        if (agentInProcess) {
            try {
                hosted = startAgent(err);
            } catch (IllegalArgumentException e) {
                err.println("nodemesh proxy: " + e.getMessage());
                err.flush();
                return 2;
            } catch (IOException e) {
                err.println("nodemesh proxy: the telemetry agent did not start: " + e.getMessage());
                err.flush();
                return 1;
            }
            spec.commandLine().getOut().println("nodemesh proxy: telemetry agent in this process, reports handed "
                    + "over directly, metrics on http://" + HostPort.format(hosted.metricsAddress()) + "/metrics");
            spec.commandLine().getOut().flush();
            builder.telemetry(ReporterConfig.builder().socketPath(telemetrySocket).build(),
                    new HostedAgentTransport(hosted.intake()));
        }
        TelemetryAgent agent = hosted;
        NodeProxy started = builder.build();
        try {
            started.start();
        } catch (ConfigException e) {
            stopAgent(agent, "the proxy did not start");
            err.println("nodemesh proxy: " + e.getMessage());
            err.flush();
            return 2;
        } catch (IOException e) {
            stopAgent(agent, "the proxy did not start");
            err.println("nodemesh proxy: " + e.getMessage());
            err.flush();
            return 1;
        }
        proxy = started;
        Thread hook = new Thread(() -> {
            started.close(); // SIGTERM/SIGINT: stop accepting, drain, stop; its last reports reach the agent
            stopAgent(agent, "shutdown signal: SIGTERM, SIGINT or SIGHUP");
            stop.countDown();
        }, "nodemesh-proxy-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        stop.await();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the hook is what woke us up
        }
        started.close();
        stopAgent(agent, "the proxy stopped");
        return 0;
    }

    /**
     * Starts the hosted agent from a thread of its own, lowered first, so that every thread the agent starts (and
     * those threads start in turn) inherits the lower priority; the proxy's threads keep theirs.
     */
    private TelemetryAgent startAgent(PrintWriter err) throws IOException, InterruptedException {
        var config = agentOptions.config(telemetrySocket.toAbsolutePath());
        TelemetryAgent[] started = new TelemetryAgent[1];
        Throwable[] failed = new Throwable[1];
        Thread starter = Thread.ofPlatform().name("nodemesh-agent-start").start(() -> {
            String warning = agentOptions.lowerCurrentThread();
            if (warning != null) {
                err.println("nodemesh proxy: the telemetry agent " + warning);
            }
            try {
                started[0] = TelemetryAgent.startHosted(config);
            } catch (IOException | RuntimeException e) {
                failed[0] = e;
            }
        });
        starter.join();
        if (failed[0] instanceof IOException e) {
            throw e;
        }
        if (failed[0] instanceof RuntimeException e) {
            throw e;
        }
        return started[0];
    }

    private static void stopAgent(TelemetryAgent agent, String why) {
        if (agent != null) {
            agent.stop(why);
        }
    }

    /** The Kubernetes source of this node, finding running pods' namespaces with a /proc scan. */
    private KubernetesSource kubernetesSource() {
        String node = nodeName != null ? nodeName : environment.apply("NODE_NAME");
        if (node == null || node.isBlank()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--kubernetes needs this node's name: "
                    + "--node-name NAME, or NODE_NAME set (in a DaemonSet, from the downward API's spec.nodeName)");
        }
        KubernetesSource.Builder b = KubernetesSource.builder(node)
                .netnsFinder(netnsFinder(hostProc))
                .cgroupFinder(CgroupFinder.under(cgroupRoot));
        if (kubeconfig != null) {
            b.kubeconfig(kubeconfig);
        }
        if (config != null) {
            b.settingsFile(config);
        }
        return b.build();
    }

    /**
     * Finds running pods' namespaces by a scan of {@code proc} (the host's) and the runtime's bind mounts, each scan that
     * found any logged.
     */
    static NetnsFinder netnsFinder(Path proc) {
        return NetnsFinder.scanning(new NetnsScanner(proc, NETNS_DIR));
    }

    /** The running proxy, or null before it started. */
    public NodeProxy proxy() {
        return proxy;
    }

    /** Drains and returns from {@link #call()} as SIGTERM would (for tests and embedding). */
    public void stop() {
        stop.countDown();
    }
}
