package io.nodemesh.bench.rules;

import io.nodemesh.bench.growth.GrowthBenchmark;
import io.nodemesh.bench.harness.PlainHttp;
import io.nodemesh.bench.harness.ProxyJvmFlags;
import io.nodemesh.discovery.kubernetes.MockApi;
import io.nodemesh.discovery.kubernetes.Resources;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Netns;
import io.nodemesh.topology.Topology;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Issue 23's capture-at-scale goal, end to end: a proxy restarted on a node whose N pods it captured before (their
 * rules still in place, as after a crash: stopped without {@code --remove-rules-on-exit}, no handover) until it
 * listens in all of them again.
 * Per round and per proxy jar (variants interleaved, so they share the machine's noise): the proxy is started and its
 * log followed ({@code --poll}); reported are launch → every pod {@code listening} (JVM start included), and
 * the proxy's own span from its first pod line to its last in the log (the capture alone), with how many pods' rules
 * were kept, applied or replaced. The first start of each jar (rules applied to fresh namespaces) is not counted.
 *
 * <p>Run as root from the repository: {@code java --enable-native-access=ALL-UNNAMED -cp
 * jmh-bench/target/benchmarks.jar io.nodemesh.bench.rules.RestartTiming [--pods N] [--rounds R] [--backend nft|iptables]
 * [--capture redirect|tproxy|ebpf (the proxy's {@code proxy.capture}, every variant's; ebpf gives each pod a cgroup
 * of its own, file of pods only)]
 * [--cpu CPUS (taskset's list, default 1)] [--jvm "FLAGS" ({name}: the variant and round)] [--kubernetes]
 * [--keep-logs DIR (the proxies' logs, NAME-ROUND.log)] [--capture-again] [--poll log|stats]
 * NAME=nodemesh.jar[,aot=nodemesh-proxy.aot][,java=bin/java][,jvm=FLAG]... ...}: the proxy runs with the daemons' flags
 * ({@link ProxyJvmFlags#TUNED}), with the AOT cache when one is named, on this JVM or the {@code java} named (the
 * image's JRE, say, whose cache is only valid there), and the variant's own JVM flags after {@code --jvm}'s.
 *
 * <p>{@code --poll}: how the harness learns that every pod listens. {@code log} (the default) follows the proxy's log
 * and times the last pod's "listening" line; {@code stats} polls the admin {@code /stats} every 10 ms, as this
 * harness did until 2026-12-07, which costs the proxy about a tenth of its two cores while it captures (the JSON of
 * every pod, a hundred times a second) and so slows what it measures.
 *
 * <p>{@code --kubernetes}: the proxy runs as the DaemonSet's does, {@code --kubernetes} against an API (fabric8's mock
 * on HTTPS with a bearer token, in this JVM) that holds the N pods on its node in an enrolled namespace; it lists
 * them, finds their namespaces by their addresses ({@code NetnsScanner}: the bind mounts, entered one by one, as no
 * process lives in them) and captures them. It runs in this host's network namespace (where the mock listens), its
 * admin on 127.0.0.1:15090. The mock's own answer time is in the figure, as an API server's would be.
 *
 * <p>{@code NAME=jar,keeper}: that variant's proxies give their pods' listeners to {@code nodemesh-keeper}
 * ({@code node-proxy/target/nodemesh-keeper}, started by this harness; docs/upgrade.md, "A restart: the listener
 * keeper"), and a restart takes them over from it. The keeper is stopped before a variant without it starts (its
 * proxy binds the ports itself); a keeper variant after one that was not starts the keeper and its proxy once, not
 * measured, so that the measured start finds the listeners held. Each measured restart also reports what a pod saw:
 * a probe in the first pod's namespace connects to its outbound listener (127.0.0.1:15001) every 10 ms through the
 * whole run, and the connects from the previous proxy's (or keeper's) stop to the last pod listening again are
 * counted, refused ones apart.
 *
 * <p>{@code --capture-again} (a file of pods only): once all pods listen, the same proxy is given the file without them
 * (each released, its rules removed) and then with them again, and the second capture's span is reported too: the
 * capture's cost in a JVM that has run it once, against the first, cold one.
 */
public final class RestartTiming {

    private static final int ADMIN_PORT = 15090;
    private static final String NODE = "restart-node";
    private static final Pattern POD_LINE = Pattern.compile(
            "^(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:(\\d\\d\\.\\d+))Z .* pod \\S+: .*(kept|applied|replaced).*\\((\\d+) µs\\)");
    private static final Pattern SYNCED_LINE = Pattern.compile("^(\\d{4}-\\d\\d-\\d\\dT[0-9:.]+)Z .*: synced: ");
    private static final Pattern LISTENING_LINE = Pattern.compile(
            "^(\\d{4}-\\d\\d-\\d\\dT[0-9:.]+)Z .* pod \\S+: (listening|took over the listeners) on :");

    private RestartTiming() {
    }

    public static void main(String[] args) throws Exception {
        int pods = 500;
        int rounds = 3;
        String cpu = "1";
        String backend = "nft";
        String capture = "redirect";
        boolean kubernetes = false;
        boolean again = false;
        boolean pollStats = false;
        Path keep = null;
        Map<String, Path> jars = new LinkedHashMap<>();
        Map<String, Path> aots = new LinkedHashMap<>();
        Map<String, Path> javas = new LinkedHashMap<>();
        Map<String, List<String>> flags = new LinkedHashMap<>();
        List<String> extra = new ArrayList<>();
        java.util.Set<String> keeperVariants = new java.util.HashSet<>();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--pods" -> pods = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--cpu" -> cpu = args[++i];
                case "--backend" -> backend = args[++i];
                case "--capture" -> capture = args[++i];
                case "--kubernetes" -> kubernetes = true;
                case "--capture-again" -> again = true;
                case "--poll" -> pollStats = switch (args[++i]) {
                    case "stats" -> true;
                    case "log" -> false;
                    default -> throw new IllegalArgumentException("--poll log|stats, got " + args[i]);
                };
                case "--keep-logs" -> keep = Path.of(args[++i]);
                case "--jvm" -> extra.addAll(List.of(args[++i].trim().split("\\s+")));
                default -> {
                    int eq = args[i].indexOf('=');
                    if (eq < 1) {
                        throw new IllegalArgumentException("expected NAME=path/to/nodemesh.jar, got " + args[i]);
                    }
                    String name = args[i].substring(0, eq);
                    String[] parts = args[i].substring(eq + 1).split(",");
                    jars.put(name, Path.of(parts[0]));
                    for (String part : List.of(parts).subList(1, parts.length)) {
                        if (part.startsWith("aot=")) {
                            aots.put(name, Path.of(part.substring(4)));
                        } else if (part.startsWith("java=")) {
                            javas.put(name, Path.of(part.substring(5)));
                        } else if (part.equals("keeper")) {
                            keeperVariants.add(name);
                        } else if (part.startsWith("jvm=")) {
                            flags.computeIfAbsent(name, k -> new ArrayList<>()).add(part.substring(4));
                        } else {
                            throw new IllegalArgumentException("expected aot=FILE, java=FILE, jvm=FLAG or keeper "
                                    + "after the jar, got " + part);
                        }
                    }
                }
            }
        }
        if (again && kubernetes) {
            throw new IllegalArgumentException("--capture-again rewrites the file of pods: not with --kubernetes");
        }
        if (kubernetes && capture.equals("ebpf")) {
            throw new IllegalArgumentException("--capture ebpf gives each pod a cgroup in the file of pods: not with "
                    + "--kubernetes");
        }
        if (jars.isEmpty()) {
            jars.put("current", Path.of("cli/target/nodemesh.jar"));
        }
        Path work = Files.createTempDirectory("nm-restart");
        Map<String, List<long[]>> results = new LinkedHashMap<>();
        try (Topology topo = new Topology("nmrs" + ProcessHandle.current().pid()).closeOnExit();
             MockApi api = kubernetes ? new MockApi(true) : null;
             Keeper keeper = new Keeper(work.resolve("keeper.sock"))) { // stopped also when a round fails
            // Standalone: the proxy in a namespace of its own, reading the pods from its file. Kubernetes: in this
            // one, where the mock listens.
            Netns node = kubernetes ? null : topo.namespace("node");
            if (node != null) {
                Commands.run("ip", "-n", node.name(), "link", "set", "lo", "up").requireOk();
            }
            long t0 = System.nanoTime();
            Netns firstPod = null;
            String settings = "proxy: { mark: 0x539, outboundPort: 15001, inboundPort: 15006, transport: epoll, "
                    + "workers: 1, rules: " + backend + ", capture: " + capture + ", admin: 127.0.0.1:" + ADMIN_PORT
                    + " }\n";
            StringBuilder cfg = new StringBuilder(settings).append(kubernetes ? "" : "pods:\n");
            if (api != null) {
                api.admin.resource(Resources.namespace("restart", true)).create();
            }
            for (int i = 0; i < pods; i++) {
                Netns ns = topo.namespace("p" + i);
                if (i == 0) {
                    firstPod = ns;
                }
                String ip = "10.77." + (1 + i / 250) + "." + (2 + i % 250);
                Commands.run("ip", "-n", ns.name(), "link", "set", "lo", "up").requireOk();
                Commands.run("ip", "-n", ns.name(), "addr", "add", ip + "/32", "dev", "lo").requireOk();
                if (api != null) {
                    api.admin.resource(Resources.pod("restart", "p" + i, NODE, ip).build()).create();
                } else {
                    cfg.append("  - { name: p").append(i).append(", namespace: restart, serviceAccount: sa, ips: [")
                            .append(ip).append("], netns: ").append(ns.path())
                            .append(capture.equals("ebpf") ? ", cgroup: " + topo.cgroup("p" + i).path() : "")
                            .append(", capture: true }\n");
                }
            }
            System.out.printf("%d pod namespaces%s in %d ms%n", pods, api == null ? "" : " and pods in the API",
                    (System.nanoTime() - t0) / 1_000_000);
            Probe probe = Probe.start(firstPod);
            Path config = work.resolve("mesh.yaml");
            Files.writeString(config, cfg);
            Recapture recapture = again ? new Recapture(config, settings + "pods: []\n", cfg.toString()) : null;
            List<String> source = api == null ? List.of("--config", config.toString())
                    : List.of("--kubernetes", "--node-name", NODE, "--kubeconfig", api.kubeconfig(work).toString(),
                            "--config", config.toString(), "--no-cni", "--readiness", "127.0.0.1:0");
            for (int round = 0; round <= rounds; round++) {
                for (var jar : jars.entrySet()) {
                    Path java = javas.getOrDefault(jar.getKey(), Path.of(System.getProperty("java.home"), "bin",
                            "java"));
                    List<String> jvm = new ArrayList<>(extra);
                    jvm.addAll(flags.getOrDefault(jar.getKey(), List.of()));
                    boolean kept = keeperVariants.contains(jar.getKey());
                    List<String> proxySource = new ArrayList<>(source);
                    if (kept) {
                        proxySource.addAll(List.of("--keeper-socket", keeper.socket.toString()));
                        if (!keeper.running()) {
                            keeper.start();
                            // once, not measured: this variant's proxy gives the keeper the pods' listeners
                            restart(node, jar.getKey() + "-primer", java, jar.getValue(), aots.get(jar.getKey()), jvm,
                                    proxySource, work, pods, cpu, round, null, pollStats);
                        }
                    } else if (keeper.running()) {
                        lastStopMillis = keeper.stop(); // the listeners close here, not at the proxy's stop
                    }
                    long stoppedMillis = lastStopMillis;
                    long[] r = restart(node, jar.getKey(), java, jar.getValue(), aots.get(jar.getKey()), jvm,
                            proxySource, work, pods, cpu, round, recapture, pollStats);
                    long[] seen = probe.between(stoppedMillis, r[11]);
                    r[12] = seen[0];
                    r[13] = seen[1];
                    if (round > 0) { // round 0 applies the rules to fresh namespaces (or replaces another jar's)
                        results.computeIfAbsent(jar.getKey(), k -> new ArrayList<>()).add(r);
                    }
                    System.out.printf("round %d %-10s launch→all listening %5d ms (%s→first pod %d ms), capture "
                            + "span %5d ms, of it rules %5d ms; kept %d, applied %d, replaced %d; RSS %.1f MiB%n", round,
                            jar.getKey(), r[0], r[7] < 0 ? "" : "→synced " + r[7] + " ms ", r[6], r[1], r[5] / 1000,
                            r[2], r[3], r[4], r[8] / 1024.0);
                    System.out.printf("round %d %-10s from the last stop to all listening: %d connects to the "
                            + "first pod's listener, %d refused%n", round, jar.getKey(), r[12], r[13]);
                    if (recapture != null) {
                        System.out.printf("round %d %-10s the same pods released and captured again in that JVM: "
                                + "capture span %5d ms, of it rules %5d ms%n", round, jar.getKey(), r[9], r[10] / 1000);
                    }
                }
            }
            keeper.stop();
            probe.close();
            // Leave no rules behind: the namespaces go with the topology, and their tables with them.
        } finally {
            if (keep != null) {
                Files.createDirectories(keep);
                try (var logs = Files.newDirectoryStream(work, "*.log")) {
                    for (Path log : logs) {
                        Files.copy(log, keep.resolve(log.getFileName()), StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
            Commands.run("rm", "-rf", work.toString());
        }
        System.out.printf("%n%-10s %-34s %-34s %-34s %-34s %s%n", "jar", "launch → all listening, ms",
                "capture span (proxy log), ms", "rules, all pods, µs", kubernetes ? "launch → synced, ms"
                        : "launch → first pod, ms", "RSS once listening, KiB");
        for (var e : results.entrySet()) {
            System.out.printf("%-10s %-34s %-34s %-34s %-34s %s%n", e.getKey(), summary(e.getValue(), 0),
                    summary(e.getValue(), 1), summary(e.getValue(), 5), summary(e.getValue(), kubernetes ? 7 : 6),
                    summary(e.getValue(), 8));
        }
        System.out.printf("%n%-10s %-34s %s%n", "jar", "connects during a restart", "of them refused");
        for (var e : results.entrySet()) {
            System.out.printf("%-10s %-34s %s%n", e.getKey(), summary(e.getValue(), 12), summary(e.getValue(), 13));
        }
        if (again) {
            System.out.printf("%n%-10s %-34s %-34s%n", "jar", "captured again: span, ms", "rules, all pods, µs");
            for (var e : results.entrySet()) {
                System.out.printf("%-10s %-34s %-34s%n", e.getKey(), summary(e.getValue(), 9),
                        summary(e.getValue(), 10));
            }
        }
    }

    /** {@code --capture-again}: the config file, and its text without pods and with them. */
    private record Recapture(Path config, String withoutPods, String withPods) {}

    /**
     * {launch→all listening ms, capture span ms, kept, applied, replaced, rules µs summed over the pods, launch→first
     * pod's rules ms, launch→the Kubernetes source's first sync ms (-1 standalone), the proxy's RSS KiB 200 ms after,
     * the captured-again span and rules µs (-1 without --capture-again), the wall-clock ms of the last pod listening,
     * and two the caller fills: the probe's connects from the last stop to then, and how many were refused}.
     */
    private static long[] restart(Netns node, String name, Path javaPath, Path jar, Path aot, List<String> extra,
                                  List<String> source, Path work, int pods, String cpu, int round,
                                  Recapture recapture, boolean pollStats) throws Exception {
        Path log = work.resolve(name + "-" + round + ".log");
        String java = javaPath.toAbsolutePath().toString();
        long start = System.nanoTime();
        long launchedMillis = System.currentTimeMillis();
        List<String> argv = new ArrayList<>(List.of("sh", "-c", "exec \"$@\" >\"$0\" 2>&1", log.toString(), "env"));
        ProxyJvmFlags.TUNED_ENV.forEach((k, v) -> argv.add(k + "=" + v));
        argv.addAll(List.of("taskset", "-c", cpu));
        argv.addAll(ProxyJvmFlags.tunedJava(java));
        if (aot != null) {
            argv.add("-XX:AOTCache=" + aot.toAbsolutePath());
        }
        argv.addAll(extra.stream().map(w -> w.replace("{name}", name + "-" + round)).toList());
        argv.addAll(List.of("-jar", jar.toAbsolutePath().toString(), "proxy"));
        argv.addAll(source);
        argv.addAll(List.of("--no-telemetry", "--admin-socket", work.resolve("admin-" + name + ".sock").toString()));
        Process proxy = node != null ? node.spawn(argv.toArray(String[]::new))
                : new ProcessBuilder(argv).redirectErrorStream(true).start();
        try {
            long deadline = start + TimeUnit.SECONDS.toNanos(60 + pods / 5);
            long ready;
            if (pollStats) {
                awaitListening(node, proxy, log, name, pods, deadline);
                ready = (System.nanoTime() - start) / 1_000_000;
            } else {
                ready = awaitListeningLines(proxy, log, name, pods, deadline) - launchedMillis;
                if (listening(node) != pods) { // once, to be sure the log told the truth
                    throw new IllegalStateException(name + ": " + pods + " pods logged that they listen, but /stats "
                            + "has " + listening(node) + " listening; the log: " + Files.readString(log));
                }
            }
            Thread.sleep(200);
            long[] r = {ready, 0, 0, 0, 0, 0, -1, -1, rssKib(proxy.pid()), -1, -1, launchedMillis + ready, -1, -1};
            List<String> lines = Files.readAllLines(log);
            for (String line : lines) {
                Matcher synced = SYNCED_LINE.matcher(line);
                if (synced.find() && r[7] < 0) {
                    r[7] = Instant.parse(synced.group(1) + "Z").toEpochMilli() - launchedMillis;
                }
            }
            long[] first = capture(lines, launchedMillis);
            System.arraycopy(first, 0, r, 1, 5);
            r[6] = first[5];
            if (recapture != null) {
                // Warm: the same JVM releases every pod (the file without them), then captures them again.
                Files.writeString(recapture.config(), recapture.withoutPods());
                awaitListening(node, proxy, log, name, 0, System.nanoTime() + TimeUnit.SECONDS.toNanos(60));
                Thread.sleep(1500); // their drains end (no connections) and their rules go
                int before = Files.readAllLines(log).size();
                Files.writeString(recapture.config(), recapture.withPods());
                awaitListening(node, proxy, log, name, pods, System.nanoTime() + TimeUnit.SECONDS.toNanos(60 + pods / 5));
                Thread.sleep(200);
                List<String> all = Files.readAllLines(log);
                long[] again = capture(all.subList(before, all.size()), launchedMillis);
                r[9] = again[0];
                r[10] = again[4];
            }
            return r;
        } finally {
            // SIGTERM without --remove-rules-on-exit: the rules stay, as after a crash (and a flight recording, if
            // one was asked for with --jvm, is written)
            lastStopMillis = System.currentTimeMillis(); // a proxy without the keeper refuses from here on
            proxy.destroy();
            if (!proxy.waitFor(30, TimeUnit.SECONDS)) {
                proxy.destroyForcibly();
                proxy.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** When the pods' listeners last had an owner that accepted: the previous proxy's stop, or the keeper's. */
    private static long lastStopMillis;

    /** {@code nodemesh-keeper}, as built by node-proxy (run from the repository). */
    private static final class Keeper implements AutoCloseable {
        final Path socket;
        private Process process;

        Keeper(Path socket) {
            this.socket = socket;
        }

        boolean running() {
            return process != null && process.isAlive();
        }

        void start() throws Exception {
            Path binary = Path.of("node-proxy/target/nodemesh-keeper");
            if (!Files.isExecutable(binary)) {
                throw new IllegalStateException(binary + " is missing: build node-proxy first");
            }
            process = new ProcessBuilder(binary.toString(), "--socket", socket.toString())
                    .redirectErrorStream(true).redirectOutput(socket.resolveSibling("keeper.log").toFile()).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!Files.exists(socket)) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException("the keeper did not start: "
                            + Files.readString(socket.resolveSibling("keeper.log")));
                }
                Thread.sleep(5);
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop();
        }

        /** SIGTERM (what it holds closes); the time it was sent. */
        long stop() throws InterruptedException {
            long at = System.currentTimeMillis();
            if (running()) {
                process.destroy();
                process.waitFor(10, TimeUnit.SECONDS);
            }
            return at;
        }
    }

    /**
     * Connects to the first pod's outbound listener (127.0.0.1:15001 in its namespace) every 10 ms and closes at once,
     * recording when and whether the connect was refused: what a pod's new connections meet while its proxy restarts.
     */
    private static final class Probe implements AutoCloseable {
        private final List<long[]> attempts = java.util.Collections.synchronizedList(new ArrayList<>());
        private final java.util.concurrent.Future<?> loop;
        private volatile boolean stopped;

        private Probe(Netns pod) {
            loop = pod.executor().submit(() -> {
                InetSocketAddress listener = new InetSocketAddress("127.0.0.1", 15001);
                while (!stopped) {
                    long at = System.currentTimeMillis();
                    boolean refused = false;
                    try (java.net.Socket s = new java.net.Socket()) {
                        s.connect(listener, 2000);
                    } catch (java.io.IOException e) {
                        refused = true;
                    }
                    attempts.add(new long[] {at, refused ? 1 : 0});
                    try {
                        Thread.sleep(10);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }

        static Probe start(Netns pod) {
            return new Probe(pod);
        }

        /** {connects started in [from, to], of them refused}. */
        long[] between(long fromMillis, long toMillis) {
            long n = 0;
            long refused = 0;
            synchronized (attempts) {
                for (long[] a : attempts) {
                    if (a[0] >= fromMillis && a[0] <= toMillis) {
                        n++;
                        refused += a[1];
                    }
                }
            }
            return new long[] {n, refused};
        }

        @Override
        public void close() throws Exception {
            stopped = true;
            loop.get(10, TimeUnit.SECONDS);
        }
    }

    /**
     * The pods' capture lines of {@code lines}: {span ms (first line to last), kept, applied, replaced, rules µs summed,
     * launch → first line ms}.
     */
    private static long[] capture(List<String> lines, long launchedMillis) {
        long[] c = {-1, 0, 0, 0, 0, -1};
        double first = -1;
        double last = -1;
        for (String line : lines) {
            Matcher m = POD_LINE.matcher(line);
            if (m.find()) {
                double s = Double.parseDouble(m.group(2));
                if (first < 0) {
                    c[5] = Instant.parse(m.group(1) + "Z").toEpochMilli() - launchedMillis;
                    first = s;
                }
                last = s;
                c[4] += Long.parseLong(m.group(4));
                c[switch (m.group(3)) {
                    case "kept" -> 1;
                    case "applied" -> 2;
                    default -> 3;
                }]++;
            }
        }
        c[0] = first < 0 ? -1 : Math.round((last - first + (last < first ? 60 : 0)) * 1000);
        return c;
    }

    /** Polls the admin API until {@code count} pods listen, or fails when the proxy exits or the deadline passes. */
    private static void awaitListening(Netns node, Process proxy, Path log, String name, int count, long deadline)
            throws Exception {
        while (listening(node) != count) {
            if (!proxy.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": the proxy " + (proxy.isAlive() ? "did not have " + count
                        + " pods listening in time" : "exited") + "; its log: " + Files.readString(log));
            }
            Thread.sleep(10);
        }
    }

    /**
     * Follows the proxy's log, reading only what was added since the last look, until {@code count} pods have logged
     * that they listen: the wall-clock time of the last of those lines, ms since the epoch. Unlike polling
     * {@code /stats} (a JSON of every pod, 100 times a second), this costs the proxy nothing.
     */
    private static long awaitListeningLines(Process proxy, Path log, String name, int count, long deadline)
            throws Exception {
        int seen = 0;
        long last = -1;
        StringBuilder partial = new StringBuilder();
        ByteBuffer buffer = ByteBuffer.allocate(1 << 16);
        while (!Files.exists(log)) { // the shell that starts the proxy makes it
            if (!proxy.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException(name + ": the proxy wrote no log " + log);
            }
            Thread.sleep(1);
        }
        try (FileChannel in = FileChannel.open(log)) {
            while (seen < count) {
                buffer.clear();
                int n = in.read(buffer);
                if (n > 0) {
                    partial.append(new String(buffer.array(), 0, n, StandardCharsets.UTF_8));
                    int nl;
                    while ((nl = partial.indexOf("\n")) >= 0) {
                        Matcher m = LISTENING_LINE.matcher(partial.substring(0, nl));
                        if (m.find()) {
                            seen++;
                            last = Instant.parse(m.group(1) + "Z").toEpochMilli();
                        }
                        partial.delete(0, nl + 1);
                    }
                    continue;
                }
                if (!proxy.isAlive() || System.nanoTime() > deadline) {
                    throw new IllegalStateException(name + ": the proxy " + (proxy.isAlive() ? "had " + seen + " of "
                            + count + " pods listening at the deadline" : "exited") + "; its log: "
                            + Files.readString(log));
                }
                Thread.sleep(5);
            }
        }
        return last;
    }

    private static long rssKib(long pid) throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D", ""));
            }
        }
        return -1;
    }

    private static int listening(Netns node) {
        InetSocketAddress admin = new InetSocketAddress("127.0.0.1", ADMIN_PORT);
        try {
            return GrowthBenchmark.countListening(node == null ? PlainHttp.get(admin, "/stats")
                    : node.call(() -> PlainHttp.get(admin, "/stats")));
        } catch (Exception e) {
            return -1;
        }
    }

    private static String summary(List<long[]> rows, int column) {
        long[] v = rows.stream().mapToLong(r -> r[column]).sorted().toArray();
        return String.format("min %d  median %d  max %d (n=%d)", v[0], v[v.length / 2], v[v.length - 1], v.length);
    }
}
