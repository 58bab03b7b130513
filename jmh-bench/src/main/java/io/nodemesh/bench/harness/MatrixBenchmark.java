package io.nodemesh.bench.harness;

import io.nodemesh.bench.load.BulkResult;
import io.nodemesh.bench.load.ChurnResult;
import io.nodemesh.bench.load.FixedRateResult;
import io.nodemesh.bench.load.LoadProtocol;
import io.nodemesh.bench.load.LoadTools;
import io.nodemesh.bench.load.MeasuredWindow;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import io.nodemesh.topology.Topology;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Issue 7's scenario matrix: for each subject (direct, nodemesh with epoll, io_uring and NIO,
 * HAProxy in TCP mode, a HAProxy pair with mutual TLS, a nodemesh proxy pair with its mutual-TLS tunnel) the same fixed-rate latency, wrk
 * throughput, bulk-transfer and connection-churn load, step by step with the subjects' order
 * alternating, in namespaces it creates and removes (also on failure or Ctrl-C).
 */
public final class MatrixBenchmark {

    static final String SERVER_IP = "10.77.0.3";
    /**
     * The nodemesh-mtls subject's server pod, with servers of its own: its proxy captures it (strict, inbound capture
     * on), which must not touch the other subjects' server.
     */
    static final String MESH_SERVER_IP = "10.77.0.10";
    static final int HTTP_PORT = 8080;
    static final int RR_PORT = 9000;
    static final int SINK_PORT = 9001;
    private static final String LOAD = LoadTools.PACKAGE;
    /** The nodemesh-telemetry subject's agent serves /metrics here, inside the node namespace. */
    private static final int AGENT_METRICS_PORT = 15020;

    static final Map<String, String> DESCRIPTIONS = descriptions();

    /**
     * One path the load can take: where the client runs, what it targets, whose CPU and memory count; {@code agent} is
     * the telemetry agent of a subject that reports (null otherwise), whose CPU and the proxy's reporter threads' CPU
     * are also counted apart.
     */
    private record Path3(Netns client, InetSocketAddress http, InetSocketAddress rr, InetSocketAddress sink,
                         List<Process> processes, NodemeshSubject capture, Process agent) {

        Path3(Netns client, InetSocketAddress http, InetSocketAddress rr, InetSocketAddress sink,
              List<Process> processes, NodemeshSubject capture) {
            this(client, http, rr, sink, processes, capture, null);
        }
    }

    private final MatrixOptions options;
    private final PrintStream out;
    private final List<String> notes = new ArrayList<>();
    private final Map<String, String> unavailable = new LinkedHashMap<>();
    private final List<Measurement> measurements = new ArrayList<>();
    private final Map<String, long[]> steadyRss = new LinkedHashMap<>();
    private Path workDir;
    private Netns meshServer;
    private Netns agentNode;
    private int proxyCpu;
    private int loadCpu;
    private long clockTicks;

    private MatrixBenchmark(MatrixOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    /** Runs the matrix and returns what it measured, writing nothing. */
    public static MatrixReport run(MatrixOptions options, PrintStream out) throws Exception {
        return new MatrixBenchmark(options, out).run();
    }

    /** Runs the matrix and rewrites the matrix section (and charts) of {@code options.out()}. */
    public static MatrixReport runAndWrite(MatrixOptions options, PrintStream out) throws Exception {
        MatrixReport report = new MatrixBenchmark(options, out).run();
        for (Path p : MatrixWriter.write(report)) {
            out.println("wrote " + p);
        }
        return report;
    }

    private static Map<String, String> descriptions() {
        Map<String, String> d = new LinkedHashMap<>();
        d.put("direct", "client pod → server pod, no proxy");
        d.put("nodemesh", "client pod → (iptables REDIRECT) → nodemesh proxy, epoll → server pod");
        d.put("nodemesh-telemetry", "the same (epoll) with telemetry on: every connection reported to a `nodemesh agent` "
                + "on the same node, the agent pinned to the proxy's core and run as `bin/nodemesh agent` runs it (the proxy's footprint flags, C1 alone, early compilation); CPU and memory are the two processes' sum");
        d.put("nodemesh-again", "a second `nodemesh` (epoll, telemetry off, its own captured client pod): the A/A control "
                + "of the telemetry on/off comparison");
        d.put("nodemesh-io_uring", "the same with the proxy on `--transport io_uring` (its own captured client pod)");
        d.put("nodemesh-nio", "the same with the proxy on `--transport nio` (Java NIO; its own captured client pod)");
        d.put("haproxy", "client pod → HAProxy (tcp mode, in the client pod) → server pod");
        d.put("haproxy-mtls", "client pod → HAProxy (plain in, mTLS out, in the client pod) → HAProxy (mTLS in, "
                + "client cert verified, in the server pod) → server app");
        d.put("nodemesh-mtls", "client pod → (iptables REDIRECT) → node 1's nodemesh proxy → HBONE tunnel (mutual TLS 1.3, "
                + "HTTP/2 CONNECT, pooled) to the server pod's :15008 → node 2's nodemesh proxy → server app; a mesh CA from "
                + "`nodemesh ca init`, the pods' namespace strict; the server pod is its own, with its own servers; CPU and "
                + "memory are the two proxies' sum");
        return Collections.unmodifiableMap(d);
    }

    private MatrixReport run() throws Exception {
        Instant started = Instant.now();
        for (String[] tool : new String[][] {{"wrk", "-v"}, {"taskset", "-V"}, {"iptables-save", "--version"}}) {
            if (Commands.run(tool).exitCode() == 127) {
                throw new IllegalStateException(tool[0] + " is not installed");
            }
        }
        if (!Files.isRegularFile(options.proxyJar())) {
            throw new IllegalStateException(options.proxyJar() + " does not exist (build it: mvn -B -q -pl cli -am package -DskipTests)");
        }
        int cpus = Runtime.getRuntime().availableProcessors();
        proxyCpu = options.proxyCpu();
        loadCpu = options.loadCpu();
        if (cpus < 2) {
            notes.add("only " + cpus + " CPU: nothing pinned");
            proxyCpu = -1;
            loadCpu = -1;
        } else if (proxyCpu >= cpus || loadCpu >= cpus || proxyCpu == loadCpu) {
            throw new IllegalArgumentException("--proxy-cpu and --load-cpu must be two different cores below " + cpus);
        }
        clockTicks = ProcessSample.clockTicksPerSecond();
        Machine machine = Machine.current();
        String loadBefore = loadAverage();
        workDir = Files.createTempDirectory("nodemesh-matrix-");
        out.printf("nodemesh bench matrix: %s, about %d s of load; work dir %s%n", options.subjects(),
                options.loadTime().toSeconds(), workDir);
        SessionPriority priority = options.nice() == 0 ? null : SessionPriority.set(options.nice());
        Topology topology = new Topology("nmm" + ProcessHandle.current().pid() + "-");
        topology.closeOnExit();
        boolean clean = false;
        Map<String, Path3> paths = new LinkedHashMap<>();
        Map<String, MatrixReport.Memory> memory = new LinkedHashMap<>();
        try {
            Lan lan = topology.lan("node");
            Netns server = lan.attach("server", SERVER_IP + "/24");
            Netns plain = lan.attach("plain", "10.77.0.4/24");
            startServers(server, plain, "");
            if (options.subjects().contains("nodemesh-mtls")) {
                meshServer = lan.attach("mserver", MESH_SERVER_IP + "/24");
                startServers(meshServer, plain, "mesh-");
            }
            for (String name : options.subjects()) {
                try {
                    paths.put(name, start(name, lan, server, plain));
                    out.println("  " + name + ": ready");
                } catch (Subject.Unavailable | IllegalStateException | IOException e) {
                    unavailable.put(name, e.getMessage());
                    out.println("  " + name + ": NOT RUN: " + e.getMessage());
                }
            }
            // Unmeasured: the JIT compiles the servers' and proxies' hot paths before the first figure.
            for (var e : paths.entrySet()) {
                wrk(e.getKey(), e.getValue(), 16, Duration.ofSeconds(2), -1);
                if (!options.churnWarmup().isZero()) {
                    // Connection set-up (accept, SO_ORIGINAL_DST, connect in the pod's namespace, close) only
                    // reaches C2 after tens of thousands of connections; wrk's few do not get it there.
                    churn(e.getKey(), e.getValue(), options.churnThreads(), -1, Duration.ZERO, options.churnWarmup());
                }
            }
            for (int round = 0; round < options.rounds(); round++) {
                int step = 0;
                for (int c : options.latencyConnections()) {
                    final int r = round;
                    each(paths, step++ + r, (n, p) -> latency(n, p, c, r));
                }
                if (round == 0) {
                    for (var e : paths.entrySet()) {
                        steadyRss.put(e.getKey(), memoryOf(e.getValue()));
                    }
                }
                for (int c : options.wrkConnections()) {
                    final int r = round;
                    each(paths, step++ + r, (n, p) -> wrk(n, p, c, options.wrkDuration(), r));
                }
                for (int s : options.bulkStreams()) {
                    final int r = round;
                    each(paths, step++ + r, (n, p) -> bulk(n, p, s, r));
                }
                final int r = round;
                each(paths, step + r, (n, p) -> churn(n, p, options.churnThreads(), r, options.toolWarmup(), options.shortDuration()));
            }
            for (var e : paths.entrySet()) {
                long[] peak = memoryOf(e.getValue());
                long[] steady = steadyRss.get(e.getKey());
                if (peak != null && steady != null) {
                    memory.put(e.getKey(), new MatrixReport.Memory(steady[0], peak[1]));
                }
            }
            if (agentNode != null) {
                notes.add("nodemesh-telemetry: what the agent counted by the end of the run (`nodemesh top`, run in the node "
                        + "namespace): " + agentTop());
            }
            notes.add("host load average (1/5/15 min) before: " + loadBefore + ", after: " + loadAverage()
                    + " — the machine is shared; `others` = share of the pinned proxy core used by processes other than "
                    + "the subject's during that run (/proc/stat minus /proc/<pid>/stat): above a few % the subject competed for its core");
            clean = true;
            return new MatrixReport(machine, options, started, Duration.between(started, Instant.now()),
                    subset(DESCRIPTIONS, options.subjects()), unavailable, measurements, memory, notes);
        } finally {
            topology.close();
            if (priority != null) {
                priority.close();
            }
            if (clean && !options.keepLogs()) {
                Processes.deleteTree(workDir);
            } else {
                out.println("logs, configs, certificates and raw tool output kept in " + workDir);
            }
        }
    }

    private interface Step {
        void run(String name, Path3 path) throws IOException;
    }

    /**
     * Runs {@code step} for every live subject, forwards on even turns and backwards on odd ones, so drift spreads
     * evenly. Callers pass step + round as the turn: the same step then runs in the other order in the next round,
     * so no subject always follows the same one at the same load.
     */
    private void each(Map<String, Path3> paths, int step, Step s) throws IOException {
        List<String> order = new ArrayList<>(paths.keySet());
        if (step % 2 == 1) {
            Collections.reverse(order);
        }
        for (String name : order) {
            if (!unavailable.containsKey(name)) {
                s.run(name, paths.get(name));
            }
        }
    }

    /** The HTTP, request/response and sink servers in {@code server}, on its address; logs named {@code prefix}*. */
    private void startServers(Netns server, Netns probe, String prefix) {
        String jar = LoadTools.classpath();
        String pl = Integer.toString(options.payload());
        String ip = server.ipv4().getHostAddress();
        spawnReady(server, probe, prefix + "http-server", new InetSocketAddress(ip, HTTP_PORT), loadCpu,
                javaArgv("-cp", jar, BenchHttpServer.class.getName(), ip, Integer.toString(HTTP_PORT), pl));
        spawnReady(server, probe, prefix + "rr-server", new InetSocketAddress(ip, RR_PORT), loadCpu,
                javaArgv("-cp", LoadTools.classpath(), LOAD + "LoadServer", "--bind", ip + ":" + RR_PORT, "--mode", "rr",
                        "--request-size", pl, "--response-size", pl));
        spawnReady(server, probe, prefix + "sink-server", new InetSocketAddress(ip, SINK_PORT), loadCpu,
                javaArgv("-cp", LoadTools.classpath(), LOAD + "LoadServer", "--bind", ip + ":" + SINK_PORT, "--mode", "sink"));
        out.println("  servers: HTTP :" + HTTP_PORT + ", request/response :" + RR_PORT + ", sink :" + SINK_PORT + " on " + ip);
    }

    private Process spawnReady(Netns ns, Netns probe, String what, InetSocketAddress ready, int cpu, List<String> argv) {
        Path log = workDir.resolve(what + ".log");
        Process p = Processes.spawn(ns, cpu, options.nice(), log, argv);
        Processes.awaitReady(what, p, log, Duration.ofSeconds(30), () -> Processes.canConnect(probe, ready));
        return p;
    }

    /** The agent's busiest pairs, one line each, as proof that telemetry really flowed. */
    private String agentTop() {
        List<String> argv = javaArgv("-jar", options.proxyJar().toString(), "top", "--metrics-address",
                "127.0.0.1:" + AGENT_METRICS_PORT, "-n", "3");
        ExecResult top = agentNode.exec(argv.toArray(String[]::new));
        return top.ok() ? String.join(" / ", top.stdout().strip().lines().map(String::strip).toList())
                : "nodemesh top failed: " + top.stderr().strip();
    }

    private static List<String> javaArgv(String... rest) {
        List<String> argv = new ArrayList<>();
        argv.add(Processes.java());
        argv.addAll(Processes.JVM_FLAGS);
        argv.add("-Xmx256m");
        argv.addAll(List.of(rest));
        return argv;
    }

    private Path3 start(String name, Lan lan, Netns server, Netns plain) throws Exception {
        InetSocketAddress http = new InetSocketAddress(SERVER_IP, HTTP_PORT);
        InetSocketAddress rr = new InetSocketAddress(SERVER_IP, RR_PORT);
        InetSocketAddress sink = new InetSocketAddress(SERVER_IP, SINK_PORT);
        return switch (name) {
            case "direct" -> new Path3(plain, http, rr, sink, List.of(), null);
            case "nodemesh", "nodemesh-again", "nodemesh-io_uring", "nodemesh-nio" -> {
                // Each transport its own captured client pod (and proxy), so no run sees another's rules or state.
                String[] t = switch (name) {
                    case "nodemesh" -> new String[] {"epoll", "client", "10.77.0.2/24"};
                    case "nodemesh-again" -> new String[] {"epoll", "again", "10.77.0.8/24"};
                    case "nodemesh-io_uring" -> new String[] {"io_uring", "uring", "10.77.0.5/24"};
                    default -> new String[] {"nio", "nio", "10.77.0.7/24"};
                };
                String transport = t[0];
                Netns pod = lan.attach(t[1], t[2]);
                Path dir = Files.createDirectories(workDir.resolve(name));
                NodemeshSubject nm = NodemeshSubject.start(lan.node(), pod, http, options.proxyJar(), transport,
                        proxyCpu, options.nice(), dir);
                if (name.equals("nodemesh")) {
                    notes.add(nm.launchNote());
                }
                yield new Path3(pod, http, rr, sink, List.of(nm.process()), nm);
            }
            case "nodemesh-telemetry" -> {
                Netns pod = lan.attach("telem", "10.77.0.6/24");
                Path dir = Files.createDirectories(workDir.resolve(name));
                Path socket = dir.resolve("telemetry.sock");
                // The agent as bin/nodemesh agent runs it: the proxy's footprint flags, C1 alone, early compilation.
                List<String> argv = ProxyJvmFlags.agentJava(Processes.java());
                argv.addAll(List.of("-jar", options.proxyJar().toString(), "agent", "--socket", socket.toString(),
                        "--metrics-address", "127.0.0.1:" + AGENT_METRICS_PORT));
                Process agent = Processes.spawn(lan.node(), proxyCpu, options.nice(), dir.resolve("agent.log"), argv);
                Processes.awaitReady("the telemetry agent", agent, dir.resolve("agent.log"), Duration.ofSeconds(30),
                        () -> Files.exists(socket));
                NodemeshSubject nm = NodemeshSubject.start(lan.node(), pod, http, options.proxyJar(), "epoll",
                        proxyCpu, options.nice(), dir, socket);
                agentNode = lan.node();
                yield new Path3(pod, http, rr, sink, List.of(nm.process(), agent), nm, agent);
            }
            case "haproxy" -> {
                requireHaproxy();
                Path cfg = workDir.resolve("haproxy-tcp.cfg");
                Files.writeString(cfg, HaproxyConfigs.tcp(List.of(fwd("127.0.0.1", 15101, SERVER_IP, HTTP_PORT),
                        fwd("127.0.0.1", 15102, SERVER_IP, RR_PORT), fwd("127.0.0.1", 15103, SERVER_IP, SINK_PORT))));
                Process p = spawnReady(plain, plain, "haproxy-tcp", new InetSocketAddress("127.0.0.1", 15101), proxyCpu,
                        List.of("haproxy", "-db", "-f", cfg.toString()));
                yield new Path3(plain, local(15101), local(15102), local(15103), List.of(p), null);
            }
            case "haproxy-mtls" -> {
                requireHaproxy();
                Path tls = Files.createDirectories(workDir.resolve("tls"));
                makeCertificates(tls);
                Path srvCfg = workDir.resolve("haproxy-mtls-server.cfg");
                Files.writeString(srvCfg, HaproxyConfigs.mtlsServer(List.of(fwd(SERVER_IP, 15301, SERVER_IP, HTTP_PORT),
                        fwd(SERVER_IP, 15302, SERVER_IP, RR_PORT), fwd(SERVER_IP, 15303, SERVER_IP, SINK_PORT)),
                        tls.resolve("server.pem"), tls.resolve("ca.crt")));
                Path cliCfg = workDir.resolve("haproxy-mtls-client.cfg");
                Files.writeString(cliCfg, HaproxyConfigs.mtlsClient(List.of(fwd("127.0.0.1", 15201, SERVER_IP, 15301),
                        fwd("127.0.0.1", 15202, SERVER_IP, 15302), fwd("127.0.0.1", 15203, SERVER_IP, 15303)),
                        tls.resolve("client.pem"), tls.resolve("ca.crt")));
                Process s = spawnReady(server, plain, "haproxy-mtls-server", new InetSocketAddress(SERVER_IP, 15301), proxyCpu,
                        List.of("haproxy", "-db", "-f", srvCfg.toString()));
                Process c = spawnReady(plain, plain, "haproxy-mtls-client", local(15201), proxyCpu,
                        List.of("haproxy", "-db", "-f", cliCfg.toString()));
                // A TCP accept proves little here: one full request/response proves both TLS handshakes and the cert check.
                String why = roundTrip(plain, local(15202));
                if (why != null) {
                    throw new IllegalStateException("the mTLS pair does not carry a request: " + why + "; logs: "
                            + Processes.tail(workDir.resolve("haproxy-mtls-client.log")) + " / "
                            + Processes.tail(workDir.resolve("haproxy-mtls-server.log")));
                }
                notes.add("haproxy-mtls: certificates made for this run with `openssl` (P-256 CA, server cert for "
                        + HaproxyConfigs.SERVER_NAME + ", client cert for " + HaproxyConfigs.CLIENT_NAME
                        + "); the server side requires and verifies the client cert, the client side verifies the server's name; "
                        + "both HAProxies pinned to the proxy core; CPU and memory are the two processes' sum");
                yield new Path3(plain, local(15201), local(15202), local(15203), List.of(c, s), null);
            }
            case "nodemesh-mtls" -> {
                Netns pod = lan.attach("mclient", "10.77.0.9/24");
                InetSocketAddress meshRr = new InetSocketAddress(MESH_SERVER_IP, RR_PORT);
                TunnelPairSubject pair = TunnelPairSubject.start(lan.node(), pod, meshServer, meshRr, options.proxyJar(),
                        proxyCpu, options.nice(), Files.createDirectories(workDir.resolve(name)));
                // The client's capture proves little: a full request/response proves the handshakes, both
                // identities and the stream (the server pod is strict: plaintext would be refused).
                String why = roundTrip(pod, meshRr);
                if (why != null) {
                    throw new IllegalStateException("the tunnel pair does not carry a request: " + why + "; logs: "
                            + Processes.tail(workDir.resolve(name).resolve(TunnelPairSubject.CLIENT_NODE).resolve("proxy.log"))
                            + " / " + Processes.tail(workDir.resolve(name).resolve(TunnelPairSubject.SERVER_NODE).resolve("proxy.log")));
                }
                yield new Path3(pod, new InetSocketAddress(MESH_SERVER_IP, HTTP_PORT), meshRr,
                        new InetSocketAddress(MESH_SERVER_IP, SINK_PORT), pair.processes(), pair.clientSide());
            }
            default -> throw new IllegalArgumentException("unknown subject " + name);
        };
    }

    private static HaproxyConfigs.Forward fwd(String bh, int bp, String th, int tp) {
        return new HaproxyConfigs.Forward(bh, bp, th, tp);
    }

    private static InetSocketAddress local(int port) {
        return new InetSocketAddress("127.0.0.1", port);
    }

    private static void requireHaproxy() throws Subject.Unavailable {
        if (!Commands.run("haproxy", "-v").ok()) {
            throw new Subject.Unavailable("haproxy is not installed (apt-get install haproxy)");
        }
    }

    private static void makeCertificates(Path dir) throws Exception {
        if (Commands.run("openssl", "version").exitCode() == 127) {
            throw new Subject.Unavailable("openssl is not installed (apt-get install openssl)");
        }
        for (List<String> cmd : HaproxyConfigs.certificateCommands(dir)) {
            ExecResult r = Commands.run(cmd);
            if (!r.ok()) {
                throw new Subject.Unavailable("`" + String.join(" ", cmd) + "` exited " + r.exitCode() + ": " + r.stderr().strip());
            }
        }
        for (String who : List.of("server", "client")) {
            Files.writeString(dir.resolve(who + ".pem"),
                    Files.readString(dir.resolve(who + ".crt")) + Files.readString(dir.resolve(who + ".key")));
        }
    }

    /** One keep-alive request/response to a LoadServer rr through {@code target}; null when it worked, else why not. */
    private String roundTrip(Netns ns, InetSocketAddress target) {
        try {
            return ns.call(() -> {
                try (Socket s = new Socket()) {
                    s.connect(target, 2000);
                    s.setSoTimeout(5000);
                    OutputStream o = s.getOutputStream();
                    o.write(LoadProtocol.request(options.payload(), LoadProtocol.KEEP_ALIVE));
                    o.flush();
                    InputStream in = s.getInputStream();
                    int got = 0;
                    byte[] buf = new byte[8192];
                    while (got < options.payload()) {
                        int n = in.read(buf);
                        if (n < 0) {
                            return "connection closed after " + got + " of " + options.payload() + " response bytes";
                        }
                        got += n;
                    }
                    return null;
                } catch (IOException e) {
                    return e.toString();
                }
            });
        } catch (Exception e) {
            return e.toString();
        }
    }

    // ---- the four scenarios -------------------------------------------------------------------------------------

    private void latency(String name, Path3 p, int connections, int round) throws IOException {
        List<String> argv = javaArgv("-cp", LoadTools.classpath(), LOAD + "FixedRateClient",
                "--target", hostPort(p.rr()), "--connections", Integer.toString(connections),
                "--rate", Double.toString(options.rate()), "--warmup", millis(options.latencyWarmup()),
                "--duration", millis(options.latencyDuration()),
                "--request-size", Integer.toString(options.payload()), "--response-size", Integer.toString(options.payload()));
        measure(Measurement.LATENCY, connections, name, p, round, connections, argv, (stdout, cpu, wall, others, windowed) -> {
            FixedRateResult f = ToolOutput.fixedRate(stdout);
            double sent = windowed ? f.requests() : f.requests() + f.targetRate() * f.warmupSeconds();
            var l = f.latency();
            return new Measurement(Measurement.LATENCY, connections, name, round, f.achievedRate(), l.p50Us(), l.p90Us(),
                    l.p99Us(), l.p999Us(), f.errors(), cpu, cpu / sent * 1000, cpu / wall, others, null);
        });
    }

    private void wrk(String name, Path3 p, int connections, Duration d, int round) throws IOException {
        List<String> argv = List.of("wrk", "-t1", "-c" + connections, "-d" + d.toSeconds() + "s", "--timeout", "2s", "--latency",
                "http://" + hostPort(p.http()) + "/");
        // wrk has no warm-up and announces no window: its CPU is the whole run's.
        measure(Measurement.THROUGHPUT, connections, name, p, round, connections, argv, (stdout, cpu, wall, others, windowed) -> {
            WrkResult w = WrkOutputParser.parse(stdout);
            return new Measurement(Measurement.THROUGHPUT, connections, name, round, w.requestsPerSecond(),
                    Math.round(w.p50Micros()), Math.round(w.p90Micros()), Math.round(w.p99Micros()), -1,
                    w.socketErrors() + w.non2xx(), cpu, cpu / w.requests() * 1000, cpu / wall, others, null);
        });
    }

    private void bulk(String name, Path3 p, int streams, int round) throws IOException {
        List<String> argv = javaArgv("-cp", LoadTools.classpath(), LOAD + "BulkClient",
                "--target", hostPort(p.sink()), "--streams", Integer.toString(streams), "--direction", "push",
                "--warmup", millis(options.toolWarmup()), "--duration", millis(options.shortDuration()));
        measure(Measurement.BULK, streams, name, p, round, streams, argv, (stdout, cpu, wall, others, windowed) -> {
            BulkResult b = ToolOutput.bulk(stdout);
            return new Measurement(Measurement.BULK, streams, name, round, b.gbps(), -1, -1, -1, -1, b.errors(),
                    cpu, Double.NaN, cpu / wall, others, null);
        });
    }

    private void churn(String name, Path3 p, int threads, int round, Duration warmup, Duration duration) throws IOException {
        List<String> argv = javaArgv("-cp", LoadTools.classpath(), LOAD + "ChurnClient",
                "--target", hostPort(p.rr()), "--threads", Integer.toString(threads),
                "--warmup", millis(warmup), "--duration", millis(duration),
                "--request-size", Integer.toString(options.payload()), "--response-size", Integer.toString(options.payload()));
        measure(Measurement.CHURN, threads, name, p, round, threads, argv, (stdout, cpu, wall, others, windowed) -> {
            ChurnResult c = ToolOutput.churn(stdout);
            double made = windowed ? c.connections() : c.connections() + c.connectionsPerSecond() * c.warmupSeconds();
            var l = c.latency();
            return new Measurement(Measurement.CHURN, threads, name, round, c.connectionsPerSecond(), l.p50Us(), l.p90Us(),
                    l.p99Us(), l.p999Us(), c.errors(), cpu, cpu / made * 1000, cpu / wall, others, null);
        });
    }

    private interface Reader {
        /**
         * The run's figures; {@code windowed}: the CPU, wall time and interference are those of the tool's measured
         * window (after its warm-up), else of its whole run.
         */
        Measurement read(String stdout, double cpuSeconds, double wallSeconds, double others, boolean windowed);
    }

    /** The subject's CPU counters and its core's times at one moment. */
    private record CpuSample(long nanos, long ticks, Map<Long, Long> telemetryThreads, CoreTimes core) {
    }

    private CpuSample cpuSample(Path3 p) throws IOException {
        return new CpuSample(System.nanoTime(), ticks(p), telemetryThreads(p), proxyCpu < 0 ? null : CoreTimes.of(proxyCpu));
    }

    /**
     * Runs one tool in the subject's client pod pinned to the load core, accounting the subject's CPU and its core's
     * interference over the tool's measured window when the tool announces it on stderr ({@link MeasuredWindow}: the
     * load tools do), so the JIT compilation of a proxy's first seconds under a new load stays in the warm-up as
     * it does for the tool's own figures; over the whole run otherwise (wrk, which has no warm-up).
     */
    private void measure(String scenario, int param, String name, Path3 p, int round, int minConnections,
                         List<String> argv, Reader reader) throws IOException {
        String label = round < 0 ? "warm-up" : scenario + " " + param + " r" + (round + 1);
        try {
            if (p.capture() != null) {
                p.capture().beforeRun();
            }
            CpuSample start = cpuSample(p);
            AtomicReference<CpuSample> opens = new AtomicReference<>();
            AtomicReference<CpuSample> closes = new AtomicReference<>();
            ExecResult r = p.client().exec(line -> {
                if (line.equals(MeasuredWindow.OPENS)) {
                    opens.set(cpuSampleOrNull(p));
                } else if (line.equals(MeasuredWindow.CLOSES)) {
                    closes.set(cpuSampleOrNull(p));
                }
            }, Processes.pinned(loadCpu, options.nice(), argv).toArray(String[]::new));
            CpuSample end = cpuSample(p);
            boolean windowed = opens.get() != null && closes.get() != null;
            CpuSample from = windowed ? opens.get() : start;
            CpuSample to = windowed ? closes.get() : end;
            double wall = (to.nanos() - from.nanos()) / 1e9;
            long ticks = to.ticks() - from.ticks();
            long telemetryNanos = ProcessSample.cpuNanosBetween(from.telemetryThreads(), to.telemetryThreads());
            Files.writeString(workDir.resolve((round < 0 ? "warmup" : scenario + "-" + param + "-r" + (round + 1)) + "-" + name + ".txt"),
                    r.stdout() + r.stderr());
            if (!r.ok()) {
                throw new IllegalStateException("the " + scenario + " tool exited " + r.exitCode() + ": "
                        + Processes.lastLines(r.stderr().strip(), 3));
            }
            if (p.capture() != null) {
                p.capture().afterRun(minConnections);
            }
            double cpu = p.processes().isEmpty() ? Double.NaN : ticks / (double) clockTicks;
            double others = from.core() == null ? Double.NaN : to.core().othersShare(from.core(), ticks);
            Measurement m = reader.read(r.stdout(), cpu, wall, others, windowed);
            if (p.agent() != null) {
                m = m.withTelemetryCpu(telemetryNanos / 1e9);
            }
            out.printf("  %-18s %-17s %s%n", label, name, MatrixMarkdown.oneLine(m));
            if (round >= 0) {
                measurements.add(m);
            }
        } catch (IllegalStateException | IllegalArgumentException | IOException e) {
            String why = label + ": " + e.getMessage();
            boolean dead = p.processes().stream().anyMatch(x -> !x.isAlive());
            if (dead) {
                unavailable.put(name, "a process of the subject exited; " + why);
            }
            out.println("  " + name + ": FAILED " + why);
            if (round >= 0) {
                measurements.add(Measurement.failed(scenario, param, name, round, e.getMessage()));
            }
        }
    }

    /** A sample taken while the tool runs; null when a process is gone, and the run falls back to its whole length. */
    private CpuSample cpuSampleOrNull(Path3 p) {
        try {
            return cpuSample(p);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static long ticks(Path3 p) throws IOException {
        long sum = 0;
        for (Process x : p.processes()) {
            sum += ProcessSample.of(x.pid()).cpuTicks();
        }
        return sum;
    }

    /**
     * CPU nanoseconds by thread of telemetry alone: every thread of the agent process, and the proxy's threads that
     * exist only to report (the reporter thread and its gRPC client's event loop, {@code telemetry-*}). Empty for a
     * subject without an agent. Per thread from schedstat, not in clock ticks: in a step's window telemetry uses a
     * handful of 10 ms ticks (one in a fixed-rate step, about ten under churn), so rounding each of the three
     * readings to a tick could move its share by a third or more. The event
     * loops' part (two offers to the reporter's buffer per connection) is not separable here; JMH measures it.
     */
    private static Map<Long, Long> telemetryThreads(Path3 p) throws IOException {
        Map<Long, Long> threads = new HashMap<>();
        if (p.agent() == null) {
            return threads;
        }
        threads.putAll(ProcessSample.threadCpuNanos(p.agent().pid(), ""));
        for (Process x : p.processes()) {
            if (x != p.agent()) {
                threads.putAll(ProcessSample.threadCpuNanos(x.pid(), "telemetry-"));
            }
        }
        return threads;
    }

    /** {VmRSS, VmHWM} summed over the subject's processes, or null for direct. */
    private static long[] memoryOf(Path3 p) throws IOException {
        if (p.processes().isEmpty()) {
            return null;
        }
        long rss = 0;
        long hwm = 0;
        for (Process x : p.processes()) {
            ProcessSample s = ProcessSample.of(x.pid());
            rss += s.rssKb();
            hwm += s.hwmKb();
        }
        return new long[] {rss, hwm};
    }

    private static String hostPort(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    private static String millis(Duration d) {
        return d.toMillis() + "ms";
    }

    private static Map<String, String> subset(Map<String, String> all, List<String> keys) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String k : keys) {
            m.put(k, all.get(k));
        }
        return m;
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split("\\s+");
            return f[0] + " / " + f[1] + " / " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }
}
