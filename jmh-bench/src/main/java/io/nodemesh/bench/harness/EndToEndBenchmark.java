package io.nodemesh.bench.harness;

import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import io.nodemesh.topology.Topology;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The end-to-end benchmark (issue 2's first run, the seed of issue 7's suite): builds a node with
 * a server pod and two client pods out of network namespaces, and drives the same wrk load
 * directly, through the nodemesh proxy and through HAProxy, interleaved round by round.
 */
public final class EndToEndBenchmark {

    private static final String SERVER_IP = "10.77.0.3";
    private static final int SERVER_PORT = 8080;
    private static final Map<String, String> DESCRIPTIONS = Map.of(
            "direct", "client pod → server pod, no proxy",
            "nodemesh", "client pod → (iptables REDIRECT) → nodemesh proxy → server pod",
            "haproxy", "client pod → HAProxy (tcp mode, in the client pod) → server pod",
            "haproxy-captured", "client pod → (iptables REDIRECT) → HAProxy (tcp mode, in the client pod, to the original "
                    + "destination) → server pod");

    private final BenchOptions options;
    private final PrintStream out;
    private final List<String> notes = new ArrayList<>();
    private int loadCpu;
    private int proxyCpu;
    private long clockTicks;

    private EndToEndBenchmark(BenchOptions options, PrintStream out) {
        this.options = options;
        this.out = out;
    }

    /** Runs the benchmark and writes its section (and charts) into {@code options.out()}. */
    public static BenchReport runAndWrite(BenchOptions options, PrintStream out) throws Exception {
        BenchReport report = run(options, out);
        List<Path> written = ResultsWriter.write(report);
        for (Path p : written) {
            out.println("wrote " + p);
        }
        return report;
    }

    /** Runs the benchmark; everything it made is removed before it returns, also on failure or Ctrl-C. */
    public static BenchReport run(BenchOptions options, PrintStream out) throws Exception {
        return new EndToEndBenchmark(options, out).run();
    }

    private BenchReport run() throws Exception {
        Instant started = Instant.now();
        requireTool("wrk", "-v", "apt-get install wrk");
        requireTool("taskset", "-V", "apt-get install util-linux");
        int cpus = Runtime.getRuntime().availableProcessors();
        proxyCpu = options.proxyCpu();
        loadCpu = options.loadCpu();
        clockTicks = ProcessSample.clockTicksPerSecond();
        if (cpus < 2) {
            notes.add("only " + cpus + " CPU available: nothing is pinned, proxy and load share it");
            proxyCpu = -1;
            loadCpu = -1;
        } else if (proxyCpu >= cpus || loadCpu >= cpus || proxyCpu == loadCpu) {
            throw new IllegalArgumentException("--proxy-cpu " + proxyCpu + " and --load-cpu " + loadCpu
                    + " must be two different cores below " + cpus);
        }
        Machine machine = Machine.current();
        String loadBefore = loadAverage();
        Path workDir = Files.createTempDirectory("nodemesh-bench-");
        out.printf("nodemesh bench: %s, about %d s of load; work dir %s%n", options.subjects(),
                options.loadTime().toSeconds(), workDir);

        SessionPriority priority = options.nice() == 0 ? null : SessionPriority.set(options.nice());
        if (options.nice() != 0) {
            notes.add("niceness " + options.nice() + " for every benchmark process"
                    + (priority != null ? " and for the harness's scheduling autogroup (kernel autogroups are on, so a process's "
                    + "own nice would rank it only within its session); restored after the run" : ""));
        }
        Topology topology = new Topology("nmb" + ProcessHandle.current().pid() + "-");
        topology.closeOnExit();
        boolean clean = false;
        try {
            Lan lan = topology.lan("node");
            Netns server = lan.attach("server", SERVER_IP + "/24");
            Netns plain = lan.attach("plain", "10.77.0.4/24");
            Netns captured = lan.attach("client", "10.77.0.2/24");
            Netns haproxyCaptured = options.subjects().contains("haproxy-captured")
                    ? lan.attach("hcapture", "10.77.0.5/24") : null;
            InetSocketAddress upstream = new InetSocketAddress(SERVER_IP, SERVER_PORT);
            startServer(server, plain, upstream, loadCpu, workDir);

            // The JIT compiles the server's hot path during this run, not during the first subject's.
            measure(new DirectSubject(plain, "http://" + SERVER_IP + ":" + SERVER_PORT + "/"), -1,
                    options.warmup().plusSeconds(3), workDir, new LinkedHashMap<>());

            Map<String, Subject> subjects = new LinkedHashMap<>();
            Map<String, String> unavailable = new LinkedHashMap<>();
            for (String name : options.subjects()) {
                try {
                    subjects.put(name, switch (name) {
                        case "direct" -> new DirectSubject(plain, "http://" + SERVER_IP + ":" + SERVER_PORT + "/");
                        case "haproxy" -> HaproxySubject.start(plain, upstream, proxyCpu, options.nice(), workDir);
                        case "haproxy-captured" -> HaproxySubject.start(haproxyCaptured, upstream, proxyCpu,
                                options.nice(), workDir, true);
                        case "nodemesh" -> NodemeshSubject.start(lan.node(), captured, upstream, options.proxyJar(),
                                options.transport(), proxyCpu, options.nice(), workDir);
                        default -> throw new IllegalArgumentException("unknown subject " + name);
                    });
                    out.println("  " + name + ": ready");
                    if (subjects.get(name) instanceof NodemeshSubject nm) {
                        notes.add(nm.launchNote());
                        out.println("  " + nm.launchNote());
                    }
                } catch (Subject.Unavailable | IllegalStateException e) {
                    unavailable.put(name, e.getMessage());
                    out.println("  " + name + ": NOT RUN: " + e.getMessage());
                }
            }

            List<RoundResult> rounds = new ArrayList<>();
            List<Subject> order = new ArrayList<>(subjects.values());
            for (Subject s : order) {
                measure(s, -1, options.warmup(), workDir, unavailable);
            }
            for (int round = 0; round < options.rounds(); round++) {
                // ABC, CBA, ABC ...: each subject sees early and late rounds alike, so drift cancels.
                List<Subject> thisRound = new ArrayList<>(order);
                if (round % 2 == 1) {
                    java.util.Collections.reverse(thisRound);
                }
                for (Subject s : thisRound) {
                    if (!unavailable.containsKey(s.name())) {
                        RoundResult r = measure(s, round, options.roundDuration(), workDir, unavailable);
                        if (r != null) {
                            rounds.add(r);
                        }
                    }
                }
            }

            List<SubjectSummary> summaries = new ArrayList<>();
            for (String name : options.subjects()) {
                Subject s = subjects.get(name);
                String description = DESCRIPTIONS.get(name);
                if (unavailable.containsKey(name)) {
                    summaries.add(SubjectSummary.unavailable(name, description, unavailable.get(name)));
                    continue;
                }
                List<RoundResult> own = rounds.stream().filter(r -> r.subject().equals(name)).toList();
                summaries.add(SubjectSummary.of(name, description, own,
                        s.process() == null ? null : ProcessSample.of(s.process().pid())));
            }
            if (subjects.containsKey("nodemesh") && !unavailable.containsKey("nodemesh")) {
                notes.add("nodemesh: every measured round was checked to be captured (the client pod's REDIRECT rule to :"
                        + NodemeshSubject.OUTBOUND_PORT + " counted at least " + options.connections() + " new connections)");
            }
            if (subjects.containsKey("haproxy-captured") && !unavailable.containsKey("haproxy-captured")) {
                notes.add("haproxy-captured: every measured round was checked to be captured (its pod's REDIRECT rule to :"
                        + HaproxySubject.CAPTURED_PORT + " counted at least " + options.connections() + " new connections); "
                        + "its rules have the proxy's layout, with HAProxy's uid (it runs as nobody) in place of the proxy's mark");
            }
            notes.add("host load average (1/5/15 min) before: " + loadBefore + ", after: " + loadAverage()
                    + " — anything else running on the machine disturbs these figures; interleaved rounds spread it over all subjects");
            notes.add("others on proxy core (per round) = share of the pinned proxy core's time used by processes other than the "
                    + "subject's during the round (/proc/stat minus /proc/<pid>/stat): anything above a few % means the subject competed for its core");
            notes.add("process CPU s = utime + stime of the proxy's (HAProxy's) process during the measured rounds, from /proc/<pid>/stat; "
                    + "RSS / peak = VmRSS / VmHWM after the last round");
            clean = true;
            return new BenchReport(machine, options, started, Duration.between(started, Instant.now()),
                    summaries, rounds, notes);
        } finally {
            topology.close();
            if (priority != null) {
                priority.close();
            }
            if (clean && !options.keepLogs()) {
                Processes.deleteTree(workDir);
            } else {
                out.println("logs, configs and raw wrk output kept in " + workDir);
            }
        }
    }

    private void startServer(Netns server, Netns probeFrom, InetSocketAddress upstream, int cpu, Path workDir) {
        Path log = workDir.resolve("server.log");
        List<String> argv = new ArrayList<>();
        argv.add(Processes.java());
        argv.addAll(Processes.JVM_FLAGS);
        argv.addAll(List.of("-Xmx256m", "-cp", System.getProperty("java.class.path"), BenchHttpServer.class.getName(),
                SERVER_IP, Integer.toString(SERVER_PORT), Integer.toString(options.bodyBytes())));
        Process p = Processes.spawn(server, cpu, options.nice(), log, argv);
        Processes.awaitReady("the HTTP server", p, log, Duration.ofSeconds(30), () -> Processes.canConnect(probeFrom, upstream));
        out.println("  server: ready on " + SERVER_IP + ":" + SERVER_PORT);
    }

    /** One wrk run against {@code s}; round -1 is the warm-up. Returns null when the subject failed (recorded). */
    private RoundResult measure(Subject s, int round, Duration duration, Path workDir, Map<String, String> unavailable)
            throws IOException {
        String label = round < 0 ? "warm-up" : "round " + (round + 1);
        List<String> argv = Processes.pinned(loadCpu, options.nice(), List.of("wrk", "-t1", "-c" + options.connections(),
                "-d" + duration.toSeconds() + "s", "--timeout", "2s", "--latency", s.url()));
        try {
            s.beforeRun();
            CoreTimes coreBefore = proxyCpu < 0 ? null : CoreTimes.of(proxyCpu);
            ProcessSample before = s.process() == null ? null : ProcessSample.of(s.process().pid());
            ExecResult wrk = s.client().exec(argv.toArray(String[]::new));
            ProcessSample after = s.process() == null ? null : ProcessSample.of(s.process().pid());
            CoreTimes coreAfter = proxyCpu < 0 ? null : CoreTimes.of(proxyCpu);
            Files.writeString(workDir.resolve("wrk-" + (round < 0 ? "warmup" : "round" + (round + 1)) + "-" + s.name() + ".txt"),
                    wrk.stdout() + wrk.stderr());
            if (!wrk.ok()) {
                throw new IllegalStateException("wrk exited " + wrk.exitCode() + ": " + wrk.stderr().strip());
            }
            WrkResult w = WrkOutputParser.parse(wrk.stdout());
            s.afterRun(options.connections());
            long ownTicks = before == null ? 0 : after.cpuTicks() - before.cpuTicks();
            double cpu = before == null ? Double.NaN : ownTicks / (double) clockTicks;
            double others = coreBefore == null ? Double.NaN : coreAfter.othersShare(coreBefore, ownTicks);
            out.printf("  %-8s %-9s %,10.0f req/s  p50 %s  p99 %s  others on proxy core %.0f%%%s%n", label, s.name(),
                    w.requestsPerSecond(), MarkdownReport.latency(w.p50Micros()), MarkdownReport.latency(w.p99Micros()),
                    100 * others,
                    w.clean() ? "" : "  (" + (w.socketErrors() + w.non2xx()) + " errors)");
            return round < 0 ? null : new RoundResult(s.name(), round, w, cpu, others);
        } catch (IllegalStateException | IllegalArgumentException | IOException e) {
            String why = "failed in the " + label + ": " + e.getMessage();
            if (s.process() != null && !s.process().isAlive()) {
                why += " (its process exited with status " + s.process().exitValue() + ")";
            }
            unavailable.put(s.name(), why);
            out.println("  " + s.name() + ": " + why);
            return null;
        }
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split("\\s+");
            return f[0] + " / " + f[1] + " / " + f[2];
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static void requireTool(String tool, String versionFlag, String install) {
        ExecResult r = Commands.run(tool, versionFlag);
        if (r.exitCode() == 127) {
            throw new IllegalStateException(tool + " is not installed (" + install + ")");
        }
    }
}
