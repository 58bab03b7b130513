package io.nodemesh.bench.growth;

import io.nodemesh.bench.harness.Machine;
import io.nodemesh.bench.harness.PlainHttp;
import io.nodemesh.bench.harness.ProcessSample;
import io.nodemesh.bench.load.FixedRateResult;
import io.nodemesh.bench.load.LoadTools;
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
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Growth of the proxy with captured pods per node (as Hitachi's istio-bench measured Istio): for
 * each pod count and JVM variant, starts the real proxy as its own JVM with that many pods in its
 * standalone config ({@code rules: iptables}, so each pod gets rules and two listeners in its own
 * network namespace), times how long until every pod listens, then samples RSS, idle CPU and open
 * sockets. Then, per variant, the proxy's memory while relaying a fixed 1000 req/s and a max-rate
 * load for one pod. Everything lives in namespaces of one {@link Topology}, removed at the end and
 * on Ctrl-C.
 */
public final class GrowthBenchmark {

    static final int ADMIN_PORT = 15000;
    static final int SERVER_PORT = 9000;
    private static final Duration SETTLE = Duration.ofSeconds(2);
    private static final Pattern LISTENING = Pattern.compile("\"state\"\\s*:\\s*\"listening\"");
    private static final Pattern REDIRECTED = Pattern.compile("^\\[(\\d+):\\d+\\] .*-j REDIRECT .*--to-ports 15001\\b",
            Pattern.MULTILINE);

    private final GrowthOptions options;
    private final PrintStream log;
    private final Path work;
    private final long ticksPerSecond;

    private GrowthBenchmark(GrowthOptions options, PrintStream log, Path work) {
        this.options = options;
        this.log = log;
        this.work = work;
        this.ticksPerSecond = ProcessSample.clockTicksPerSecond();
    }

    /** Runs the whole benchmark, rewrites the growth section of the results file and returns the report. */
    public static GrowthReport runAndWrite(GrowthOptions options, PrintStream log) throws Exception {
        if (!Files.isRegularFile(options.proxyJar())) {
            throw new IllegalStateException(options.proxyJar() + " does not exist (build it: "
                    + "mvn -B -q -pl cli -am package -DskipTests)");
        }
        Path work = Files.createTempDirectory("nodemesh-growth");
        GrowthReport report = new GrowthBenchmark(options, log, work).run();
        List<Path> written = GrowthResults.write(report);
        written.forEach(p -> log.println("wrote " + p));
        if (options.keepLogs()) {
            log.println("kept the work directory " + work);
        } else {
            try (var files = Files.walk(work)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return report;
    }

    private GrowthReport run() throws Exception {
        Instant started = Instant.now();
        long t0 = System.nanoTime();
        Topology topo = new Topology("nmgrow" + ProcessHandle.current().pid() + "-").closeOnExit();
        try {
            Netns node = topo.namespace("node");
            List<Pod> pods = new ArrayList<>();
            List<GrowthPoint> points = new ArrayList<>();
            List<Long> createMillis = new ArrayList<>();
            for (int count : options.podCounts()) {
                long c0 = System.nanoTime();
                while (pods.size() < count) {
                    pods.add(createPod(topo, pods.size()));
                }
                createMillis.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - c0));
                // Alternate the variants' order from count to count so drift does not favour one.
                List<GrowthOptions.Variant> order = new ArrayList<>(options.variants());
                if (points.size() / options.variants().size() % 2 == 1) {
                    java.util.Collections.reverse(order);
                }
                for (GrowthOptions.Variant v : order) {
                    GrowthPoint p = measureIdle(node, pods.subList(0, count), v);
                    log.printf("%-8s %4d pods: RSS %.1f MiB, idle CPU %.3f s in %.0f s, %d listening, %d sockets, ready in %d ms%n",
                            v.name(), count, p.rssKb() / 1024.0, p.idleCpuSeconds(), p.idleSeconds(), p.listeningPods(),
                            p.sockets(), p.readyMillis());
                    points.add(p);
                }
            }
            long createdTotal = createMillis.stream().mapToLong(Long::longValue).sum();
            List<LoadPoint> loads = new ArrayList<>();
            if (!options.load().isZero()) {
                loads.addAll(measureLoad(topo, node));
            }
            return new GrowthReport(Machine.current(), options, started, Duration.ofNanos(System.nanoTime() - t0),
                    pods.size(), createdTotal, points, loads, List.of());
        } finally {
            topo.close();
        }
    }

    /** A pod: a namespace with lo up and one address on lo (enough for its rules and listeners). */
    private record Pod(Netns ns, String ip) {
    }

    private static Pod createPod(Topology topo, int i) {
        Netns ns = topo.namespace("p" + i);
        String ip = "10.77." + (1 + i / 250) + "." + (2 + i % 250);
        Commands.run("ip", "-n", ns.name(), "addr", "add", ip + "/32", "dev", "lo").requireOk();
        return new Pod(ns, ip);
    }

    private GrowthPoint measureIdle(Netns node, List<Pod> pods, GrowthOptions.Variant v) throws Exception {
        StringBuilder cfg = new StringBuilder(header());
        cfg.append("pods:").append(pods.isEmpty() ? " []\n" : "\n");
        for (int i = 0; i < pods.size(); i++) {
            Pod p = pods.get(i);
            cfg.append("  - { name: p").append(i).append(", namespace: growth, serviceAccount: sa").append(i % 10)
                    .append(", ips: [").append(p.ip()).append("], netns: ").append(p.ns().path()).append(", capture: true }\n");
        }
        String tag = v.name() + "-" + pods.size();
        long start = System.nanoTime();
        Process proxy = startProxy(node, v, cfg.toString(), tag);
        try {
            Duration limit = Duration.ofSeconds(60 + pods.size() / 2);
            awaitListening(node, proxy, pods.size(), limit, tag);
            long ready = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            Thread.sleep(SETTLE.toMillis());
            ProcessSample before = ProcessSample.of(proxy.pid());
            long i0 = System.nanoTime();
            Thread.sleep(options.idle().toMillis());
            ProcessSample after = ProcessSample.of(proxy.pid());
            long anon = ProcFds.rssAnonKb(proxy.pid());
            double idleSeconds = (System.nanoTime() - i0) / 1e9;
            int sockets = ProcFds.sockets(proxy.pid());
            int listening = listening(node);
            return new GrowthPoint(v.name(), pods.size(), after.rssKb(), anon,
                    (after.cpuTicks() - before.cpuTicks()) / (double) ticksPerSecond, idleSeconds, listening, sockets, ready);
        } finally {
            stop(proxy, tag);
        }
    }

    private String header() {
        return "proxy: { mark: 0x539, outboundPort: 15001, inboundPort: 15006, transport: epoll, workers: 1, "
                + "rules: iptables, admin: 127.0.0.1:" + ADMIN_PORT + " }\n";
    }

    private Process startProxy(Netns ns, GrowthOptions.Variant v, String config, String tag) throws IOException {
        Path cfg = work.resolve("proxy-" + tag + ".yaml");
        Files.writeString(cfg, config);
        Path logFile = work.resolve("proxy-" + tag + ".log");
        List<String> argv = new ArrayList<>(List.of("sh", "-c", "exec \"$@\" >\"$0\" 2>&1", logFile.toString()));
        if (!v.env().isEmpty()) {
            argv.add("env");
            v.env().entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> argv.add(e.getKey() + "=" + e.getValue()));
        }
        if (options.proxyCpu() >= 0) {
            argv.addAll(List.of("taskset", "-c", Integer.toString(options.proxyCpu())));
        }
        argv.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        argv.addAll(v.flags());
        argv.addAll(List.of("-jar", options.proxyJar().toAbsolutePath().toString(), "proxy", "--config", cfg.toString(),
                "--no-telemetry", "--remove-rules-on-exit", "--admin-socket", work.resolve("admin-" + tag + ".sock").toString()));
        return ns.spawn(argv.toArray(String[]::new));
    }

    private void awaitListening(Netns node, Process proxy, int pods, Duration limit, String tag)
            throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            if (!proxy.isAlive()) {
                throw new IllegalStateException("the proxy (" + tag + ") exited with status " + proxy.exitValue()
                        + " before all " + pods + " pods listened; see " + work.resolve("proxy-" + tag + ".log")
                        + " (rerun with --keep-logs)");
            }
            if (listening(node) == pods) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the proxy (" + tag + ") had " + Math.max(listening(node), 0) + " of "
                        + pods + " pods listening after " + limit.toSeconds() + " s");
            }
            Thread.sleep(50);
        }
    }

    /** Pods the admin {@code /stats} reports as listening, or -1 while the admin does not answer. */
    private static int listening(Netns node) {
        try {
            String body = node.call(() -> PlainHttp.get(new InetSocketAddress("127.0.0.1", ADMIN_PORT), "/stats"));
            return countListening(body);
        } catch (Exception e) {
            return -1;
        }
    }

    /** How many pods a {@code /stats} JSON body reports in state {@code listening}. */
    public static int countListening(String statsJson) {
        Matcher m = LISTENING.matcher(statsJson);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    private void stop(Process proxy, String tag) throws InterruptedException {
        proxy.destroy(); // SIGTERM: the proxy drains and removes its rules
        if (!proxy.waitFor(60, TimeUnit.SECONDS)) {
            log.println("the proxy (" + tag + ") did not stop within 60 s of SIGTERM; killing it");
            proxy.destroyForcibly();
            proxy.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Per variant: the proxy capturing one client pod while a fixed-rate, then a max-rate load runs through it. */
    private List<LoadPoint> measureLoad(Topology topo, Netns node) throws Exception {
        Lan lan = topo.lan("lan");
        Netns client = lan.attach("client", "10.77.200.2/24");
        Netns server = lan.attach("server", "10.77.200.3/24");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String jar = LoadTools.classpath(); // the load tools, not the proxy
        int loadCpu = options.proxyCpu() == 0 ? 1 : 0;
        Path serverLog = work.resolve("load-server.log");
        Process srv = server.spawn("sh", "-c", "exec \"$@\" >\"$0\" 2>&1", serverLog.toString(), "taskset", "-c",
                Integer.toString(loadCpu), java, "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-cp", jar,
                LoadTools.PACKAGE + "LoadServer", "--bind", "0.0.0.0:" + SERVER_PORT);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(serverLog) || !Files.readString(serverLog).contains("\"listening\"")) {
            if (!srv.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("the load server did not start; " + serverLog + ":\n"
                        + (Files.exists(serverLog) ? Files.readString(serverLog) : ""));
            }
            Thread.sleep(100);
        }
        String cfg = header() + "pods:\n  - { name: client, namespace: growth, serviceAccount: client, ips: [10.77.200.2], "
                + "netns: " + client.path() + ", capture: true }\n";
        List<LoadPoint> out = new ArrayList<>();
        for (GrowthOptions.Variant v : options.variants()) {
            String tag = v.name() + "-load";
            Process proxy = startProxy(node, v, cfg, tag);
            try {
                awaitListening(node, proxy, 1, Duration.ofSeconds(60), tag);
                out.add(loadPhase(client, proxy, v, options.rate() + " req/s", options.rate(), 4, java, jar, loadCpu));
                out.add(loadPhase(client, proxy, v, options.highRate() + " req/s", options.highRate(), 16, java, jar, loadCpu));
                LoadPoint last = out.get(out.size() - 1);
                log.printf("%-8s load: RSS %.1f MiB, peak %.1f MiB, %.0f req/s at the high rate%n", v.name(),
                        last.rssKb() / 1024.0, last.peakRssKb() / 1024.0, last.requestsPerSecond());
            } finally {
                stop(proxy, tag);
            }
        }
        return out;
    }

    private LoadPoint loadPhase(Netns client, Process proxy, GrowthOptions.Variant v, String phase, int rate,
                                int connections, String java, String jar, int loadCpu) throws IOException {
        long redirectedBefore = redirected(client);
        ProcessSample before = ProcessSample.of(proxy.pid());
        long t0 = System.nanoTime();
        ExecResult r = client.exec("taskset", "-c", Integer.toString(loadCpu), java, "--enable-native-access=ALL-UNNAMED",
                "-cp", jar, LoadTools.PACKAGE + "FixedRateClient", "--target", "10.77.200.3:" + SERVER_PORT,
                "--rate", Integer.toString(rate), "--connections", Integer.toString(connections),
                "--duration", options.load().toMillis() + "ms", "--warmup", loadWarmup(options.load()).toMillis() + "ms");
        double seconds = (System.nanoTime() - t0) / 1e9;
        ProcessSample after = ProcessSample.of(proxy.pid());
        long anon = ProcFds.rssAnonKb(proxy.pid());
        if (!r.ok()) {
            throw new IllegalStateException("the load client failed: " + r.describe());
        }
        String json = r.stdout().strip().lines().reduce((a, b) -> b).orElse("");
        FixedRateResult result = FixedRateResult.fromJson(json);
        long captured = redirected(client) - redirectedBefore;
        if (captured < connections) {
            throw new IllegalStateException("the load's " + connections + " connections were not all captured by the "
                    + "proxy (" + v.name() + "): the pod's REDIRECT rule counted " + captured);
        }
        return new LoadPoint(v.name(), phase, result.achievedRate(), after.rssKb(), anon, after.hwmKb(),
                (after.cpuTicks() - before.cpuTicks()) / (double) ticksPerSecond, seconds, result.errors());
    }

    /** Unmeasured start of each loaded phase: 2 s, or 1 s for short (developer) phases. */
    static Duration loadWarmup(Duration load) {
        return load.compareTo(Duration.ofSeconds(5)) < 0 ? Duration.ofSeconds(1) : Duration.ofSeconds(2);
    }

    private static long redirected(Netns pod) {
        Matcher m = REDIRECTED.matcher(pod.exec("iptables-save", "-c", "-t", "nat").stdout());
        long sum = 0;
        while (m.find()) {
            sum += Long.parseLong(m.group(1));
        }
        return sum;
    }
}
