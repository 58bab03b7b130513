package io.nodemesh.daemonset;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.nodemesh.cli.NodemeshCommand;
import io.nodemesh.discovery.kubernetes.MockApi;
import io.nodemesh.discovery.kubernetes.Resources;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The default install's pod run on this machine: its {@code install-cni}, {@code listener-keeper}, {@code node-proxy}
 * and {@code telemetry-agent} containers started in the manifest's order (the native sidecars first) with exactly the
 * command lines, environment, mounts, users and capabilities of the rendered DaemonSet ({@link ContainerProcess}), in
 * one network namespace standing for the pod's, against the API mock reached the way a pod reaches its API server
 * (in-cluster: {@code KUBERNETES_SERVICE_*} and the service account's token and CA). They must become ready and find
 * one another where the manifest says (the proxy holding a session with the listener keeper), come back from a killed
 * proxy (restarted, it takes the listeners over from the keeper), and stop within the pod's grace period, the sidecars
 * last.
 *
 * <p>{@code nodemesh} runs as {@code java <jvm-flags.properties> -jar cli/target/nodemesh.jar} with the flags
 * bin/nodemesh chooses for each command (the image's launcher, /opt/nodemesh/bin/nodemesh, does the same from its copy of
 * that file; the image module's test covers the launcher itself). The jar is built by {@code package}: run this with
 * {@code mvn package -pl daemonset -am -Dtest=DaemonSetRunsTest ...} (bin/test's {@code verify} builds it first).
 */
final class DaemonSetRunsTest {

    @RegisterExtension
    static final NetnsExtension NET = new NetnsExtension();

    private static final String NODE = "node-a";
    private static final String NAMESPACE = "nodemesh-system";
    private static final Duration READY_WITHIN = Duration.ofSeconds(60);
    /**
     * How long after its readiness the proxy may take to open its session with the listener keeper: at its start if
     * the keeper listens by then, else on its next try (every 5 s; NodeProxy's KEEPER_RETRY_SECONDS).
     */
    private static final Duration KEEPER_SESSION_WITHIN = Duration.ofSeconds(15);
    private static final String BRIDGE_CONFLIST = """
            {
              "cniVersion": "1.0.0",
              "name": "podnet",
              "plugins": [
                {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]]}},
                {"type": "portmap", "capabilities": {"portMappings": true}}
              ]
            }
            """;

    /** Where the image has nodemesh.jar (image/README.md); the test mounts the built one there. */
    private static final String IMAGE_JAR = "/opt/nodemesh/lib/nodemesh.jar";

    private final List<ContainerProcess> running = new ArrayList<>();

    /** The default install, and the overlay whose proxy hosts the agent. */
    static Stream<Path> installs() {
        return Stream.of(Manifests.DEFAULT, Manifests.ONE_PROCESS);
    }

    @ParameterizedTest
    @MethodSource("installs")
    void theProxyAndTheAgentStartAsTheManifestSaysBecomeReadyAndStopWithinTheGracePeriod(Path install,
            @TempDir Path dir) throws Exception {
        requireTools("nsenter", "unshare", "setpriv", "chroot", "mount");
        Path jar = freshJar();
        // The image's two C programs, as their modules build them (image/src/build/stage-root.sh copies them).
        Path watch = built("cni-plugin/target/nodemesh-cni-watch", "cni-plugin");
        Path keeperProgram = built("node-proxy/target/nodemesh-keeper", "node-proxy");
        Manifests m = Manifests.render(install);
        PodSpec pod = m.pod();
        Netns podNetns = NET.namespace("dspod");

        try (MockApi api = new MockApi(true)) {
            api.admin.resource(Resources.namespace("shop", true)).create();
            api.admin.resource(Resources.pod("shop", "web", NODE, "10.244.1.7").build()).create();
            try (NamespaceForwarder apiInPod = NamespaceForwarder.in(podNetns, api.address())) {
                Map<String, Path> volumes = standIns(m, dir.resolve("volumes"));
                Path serviceAccount = serviceAccount(dir.resolve("serviceaccount"), api);
                Map<String, String> kubeletEnv = Map.of(
                        // In a pod these name the kubernetes Service; here the forwarder on the pod's loopback.
                        "KUBERNETES_SERVICE_HOST", "127.0.0.1",
                        "KUBERNETES_SERVICE_PORT", String.valueOf(apiInPod.port()),
                        "KUBERNETES_SERVICE_PORT_HTTPS", String.valueOf(apiInPod.port()));
                Kubelet kubelet = new Kubelet(NODE, "nodemesh-x7k2q", NAMESPACE);
                // The jar where the image has it: its path in the repository may be hidden in the container (a clone
                // under /tmp, where the pod mounts an emptyDir).
                JarLauncher launcher = new JarLauncher(Path.of(IMAGE_JAR));
                long started = System.nanoTime();
                Map<String, ContainerProcess.Start> starts = new LinkedHashMap<>();
                try {
                    for (Container c : Stream.concat(pod.getInitContainers().stream(), pod.getContainers().stream())
                            .toList()) {
                        Map<String, Path> extra = new LinkedHashMap<>();
                        extra.put("/var/run/secrets/kubernetes.io/serviceaccount", serviceAccount);
                        extra.put(IMAGE_JAR, jar);
                        if (c.getName().equals("install-cni")) {
                            // The image's copy of the plugin's layout, built by cni-plugin's package.
                            extra.put("/opt/nodemesh/cni", Manifests.repository("cni-plugin/target/cni"));
                            extra.put(ContainerProcess.IMAGE_WATCH, watch);
                        }
                        if (c.getName().equals("listener-keeper")) {
                            extra.put(ContainerProcess.IMAGE_KEEPER, keeperProgram);
                        }
                        ContainerProcess.Start start = new ContainerProcess.Start(kubelet, pod.getSecurityContext(),
                                volumes, extra, kubeletEnv, podNetns.path(), launcher, dir.resolve("containers"));
                        starts.put(c.getName(), start);
                        running.add(ContainerProcess.start(c, start));
                    }
                    long readyMillis = checkReady(m, podNetns, volumes, started);
                    // Settled, then what each container's program holds, against its memory request: a DaemonSet
                    // pod above its requests is among the first evicted when the node runs short of memory.
                    Thread.sleep(3000);
                    for (ContainerProcess p : running) {
                        // Kubernetes mode, one pod captured: RESULTS.md quotes this line.
                        ContainerProcess.Memory memory = p.memory(); // one reading, printed and checked
                        System.out.println("DaemonSet pod, ready and idle: " + p + ": " + memory
                                + (p.name().equals("node-proxy") ? ", ready " + readyMillis + " ms after the start"
                                        : ""));
                        long request = Quantity.getAmountInBytes(m.container(p.name()).getResources().getRequests()
                                .get("memory")).longValueExact();
                        assertThat(memory.rssBytes()).as(p + ": resident memory, ready and idle, within its memory "
                                + "request").isPositive().isLessThanOrEqualTo(request);
                    }
                    checkProxyRestart(m, podNetns, starts.get("node-proxy"));
                    checkStops(m, volumes);
                } finally {
                    for (ContainerProcess p : running) {
                        p.close();
                    }
                }
            }
        }
    }

    /** Checks the pod's readiness and wiring; returns the ms from {@code started} to the proxy's readiness. */
    private long checkReady(Manifests m, Netns podNetns, Map<String, Path> volumes, long started) throws Exception {
        Container proxy = m.container("node-proxy");
        Container agent = m.has("telemetry-agent") ? m.container("telemetry-agent") : null; // null: hosted by the proxy
        int readinessPort = proxy.getReadinessProbe().getHttpGet().getPort().getIntVal();
        String readinessPath = proxy.getReadinessProbe().getHttpGet().getPath();
        await("the proxy's readinessProbe (GET :" + readinessPort + readinessPath + " in the pod) answers 200",
                () -> get(podNetns, readinessPort, readinessPath).startsWith("200"));
        long readyMillis = (System.nanoTime() - started) / 1_000_000;

        if (agent != null) {
            int livenessPort = agent.getLivenessProbe().getHttpGet().getPort().getIntVal();
            String livenessPath = agent.getLivenessProbe().getHttpGet().getPath();
            await("the agent's livenessProbe (GET :" + livenessPort + livenessPath + ") answers 200",
                    () -> get(podNetns, livenessPort, livenessPath).startsWith("200"));
        }

        Map<String, String> scrape = m.one(DaemonSet.class).getSpec().getTemplate().getMetadata().getAnnotations();
        int metricsPort = Integer.parseInt(scrape.get("prometheus.io/port"));
        String metricsPath = scrape.get("prometheus.io/path");
        // The proxy's reporter reached the agent's socket in the shared emptyDir (root without CAP_DAC_OVERRIDE,
        // through the fsGroup; or in its own process), and the capture state of the pod it synced from the API came
        // along.
        await("Prometheus's scrape (GET :" + metricsPort + metricsPath + ") shows the proxy's report stream and the "
                + "state of shop/web", () -> {
            String answer = get(podNetns, metricsPort, metricsPath);
            return answer.startsWith("200")
                    && MetricsScrape.sum(answer, "nodemesh_agent_active_streams") == 1
                    && !MetricsScrape.samples(answer, "nodemesh_pod_capture_state", "namespace=\"shop\"",
                            "pod=\"web\"").isEmpty();
        });

        // What the CNI plugin and `nodemesh status` on the host need, in the directory standing for the hostPath.
        Path run = volumes.get("run");
        // The proxy holds a session with the listener keeper (the keeper's socket in the same hostPath): from now on
        // the keeper has a duplicate of every pod's listeners the proxy captures, for a restart of the proxy.
        ContainerProcess proxyProcess = process("node-proxy");
        ContainerProcess keeperProcess = process("listener-keeper");
        String holding = "listener keeper at " + proxyOption(m, "--keeper-socket") + ": holding";
        await("the proxy's log says it holds a session with the listener keeper (\"" + holding + "\")",
                KEEPER_SESSION_WITHIN, () -> proxyProcess.logged("ListenerKeeper", holding)
                        && keeperProcess.logged("nodemesh-keeper: pid ", " holds the listeners"));
        for (String file : List.of("cni.sock", "admin.sock", "keeper.sock")) {
            assertThat(Files.readAttributes(run.resolve(file), "unix:mode").get("mode"))
                    .as(file + " is a socket in the host's run dir").matches(mode -> ((Integer) mode & 0170000) == 0140000);
        }
        assertThat(Files.readString(run.resolve("enrolment.json"))).as("the enrolled namespaces, for the plugin")
                .contains("\"shop\"");
        String workloads = getOverUnixSocket(run.resolve("admin.sock"), "/workloads");
        assertThat(workloads).as("the admin API on the host's socket").startsWith("200").contains("\"web\"");

        Path confDir = volumes.get("cni-conf");
        await("install-cni chains nodemesh last in the host's conflist and copies the plugin",
                () -> Files.readString(confDir.resolve("10-podnet.conflist")).contains("\"nodemesh-cni\"")
                        && Files.isExecutable(volumes.get("cni-bin").resolve("nodemesh-cni")));
        assertThat(Files.readString(confDir.resolve("10-podnet.conflist")))
                .as("the plugin on the host finds the proxy's socket at the hostPath")
                .contains("\"/var/run/nodemesh/cni.sock\"").contains("\"/var/run/nodemesh/enrolment.json\"");
        // The primary CNI writes its config again (a temp file, then a rename): the sidecar's nodemesh-cni-watch
        // runs the installer again, which chains the plugin back.
        Path conflist = confDir.resolve("10-podnet.conflist");
        Path temp = Files.writeString(confDir.resolve(".10-podnet.conflist.tmp"), BRIDGE_CONFLIST);
        Files.move(temp, conflist, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        await("install-cni chains nodemesh again after the primary CNI wrote its config anew",
                () -> Files.readString(conflist).contains("\"nodemesh-cni\""));
        return readyMillis;
    }

    /**
     * The node-proxy container killed (SIGKILL, as the OOM killer or a runtime after a failed probe ends it) and
     * started again as the kubelet restarts it, the native sidecars running on: the listener keeper notices the
     * holding session end and holds on; the restarted proxy, finding no proxy at the handover socket, takes the
     * listeners over from the keeper, becomes ready and holds a new session with it.
     */
    private void checkProxyRestart(Manifests m, Netns podNetns, ContainerProcess.Start start) throws Exception {
        ContainerProcess killed = process("node-proxy");
        ContainerProcess keeper = process("listener-keeper");
        int at = running.indexOf(killed);
        running.remove(at);
        killed.close();
        await("the listener keeper notices that the proxy it held for (pid " + killed.pid() + ") is gone",
                () -> keeper.logged("nodemesh-keeper: pid " + killed.pid() + " stopped holding"));
        ContainerProcess restarted = ContainerProcess.start(m.container("node-proxy"), start);
        running.add(at, restarted);
        Container proxy = m.container("node-proxy");
        int readinessPort = proxy.getReadinessProbe().getHttpGet().getPort().getIntVal();
        String readinessPath = proxy.getReadinessProbe().getHttpGet().getPath();
        await("the restarted proxy's readinessProbe answers 200",
                () -> get(podNetns, readinessPort, readinessPath).startsWith("200"));
        String holding = "listener keeper at " + proxyOption(m, "--keeper-socket") + ": holding";
        await("the restarted proxy took the listeners over from the keeper and holds a session with it",
                KEEPER_SESSION_WITHIN, () -> keeper.logged("nodemesh-keeper: pid " + restarted.pid() + " takes over")
                        && keeper.logged("nodemesh-keeper: pid " + restarted.pid() + " holds the listeners")
                        && restarted.logged("ListenerKeeper", holding));
    }

    /**
     * SIGTERM to the containers, then to the native sidecars in the reverse of their start, as the kubelet stops a pod:
     * each within the grace period.
     */
    private void checkStops(Manifests m, Map<String, Path> volumes) throws InterruptedException {
        long grace = m.pod().getTerminationGracePeriodSeconds();
        int sidecars = m.pod().getInitContainers().size();
        List<ContainerProcess> order = new ArrayList<>(running.subList(sidecars, running.size()));
        order.addAll(running.subList(0, sidecars).reversed());
        for (ContainerProcess p : order) {
            Integer status = p.terminate(grace);
            assertThat(status).as(p + " exits within terminationGracePeriodSeconds (" + grace + " s) of SIGTERM; "
                    + "its output:\n" + p.output()).isNotNull();
            if (p.name().equals("listener-keeper")) {
                assertThat(status).as(p + ": SIGTERM is a clean stop; its output:\n" + p.output()).isZero();
            }
        }
        assertThat(volumes.get("run").resolve("admin.sock")).as("the proxy removes its admin socket").doesNotExist();
        assertThat(volumes.get("run").resolve("keeper.sock")).as("the listener keeper removes its socket")
                .doesNotExist();
    }

    /** The running container {@code name}. */
    private ContainerProcess process(String name) {
        return running.stream().filter(p -> p.name().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError("no running container " + name));
    }

    /** The value of the proxy's {@code option=VALUE} argument, as the kubelet expands its args. */
    private static String proxyOption(Manifests m, String option) {
        List<String> args = new Kubelet(NODE, "nodemesh-x7k2q", NAMESPACE).args(m.container("node-proxy"));
        return args.stream().filter(a -> a.startsWith(option + "=")).map(a -> a.substring(option.length() + 1))
                .findFirst().orElseThrow(() -> new AssertionError("node-proxy has no " + option + "=…"));
    }

    /** An executable a module's build makes (a C program of the image), failing with what to build when missing. */
    private static Path built(String relative, String module) {
        Path program = Manifests.repository(relative);
        assertThat(Files.isExecutable(program)).as(program + " is missing: build " + module + " first (mvn -B -ntp -o "
                + "package -pl daemonset -am -Dtest=DaemonSetRunsTest -Dsurefire.failIfNoSpecifiedTests=false "
                + "-Dnodemesh.aot.skip)").isTrue();
        return program;
    }

    /** Directories standing for the pod's volumes, made as the kubelet makes them. */
    private static Map<String, Path> standIns(Manifests m, Path dir) throws IOException {
        Map<String, Path> volumes = new LinkedHashMap<>();
        Long fsGroup = m.pod().getSecurityContext().getFsGroup();
        for (Volume v : m.pod().getVolumes()) {
            Path d = dir.resolve(v.getName());
            if (v.getHostPath() != null && v.getHostPath().getPath().equals("/proc")) {
                volumes.put(v.getName(), Path.of("/proc")); // read-only in the container: the real one will do
                continue;
            }
            Files.createDirectories(d);
            if (v.getHostPath() != null) {
                chmod("0755", d); // DirectoryOrCreate
                if (v.getName().equals("cni-conf")) {
                    Files.writeString(d.resolve("10-podnet.conflist"), BRIDGE_CONFLIST); // the primary CNI's
                }
            } else if (v.getEmptyDir() != null) {
                // The kubelet makes an emptyDir 0777; fsGroup gives it the group, setgid.
                chmod("2777", d);
                chgrp(fsGroup, d);
            } else if (v.getConfigMap() != null) {
                ConfigMap map = m.all(ConfigMap.class).stream()
                        .filter(c -> c.getMetadata().getName().equals(v.getConfigMap().getName())).findFirst()
                        .orElseThrow(() -> new AssertionError("no ConfigMap " + v.getConfigMap().getName()));
                for (Map.Entry<String, String> e : map.getData().entrySet()) {
                    secretOrConfigFile(d.resolve(e.getKey()), e.getValue(), v.getConfigMap().getDefaultMode(),
                            fsGroup);
                }
            } else if (v.getSecret() != null && v.getSecret().getSecretName().equals("nodemesh-ca")) {
                // What README.md has the operator do: nodemesh ca init, a Secret from its two files.
                Path ca = dir.resolve("ca-init");
                int exit = NodemeshCommand.commandLine().execute("ca", "init", "--dir", ca.toString(),
                        "--trust-domain", "cluster.local");
                assertThat(exit).as("nodemesh ca init").isZero();
                for (String file : List.of(MeshCa.CERT_FILE, MeshCa.KEY_FILE)) {
                    secretOrConfigFile(d.resolve(file), Files.readString(ca.resolve(file)),
                            v.getSecret().getDefaultMode(), fsGroup);
                }
            } else {
                throw new AssertionError("volume " + v.getName() + ": no stand-in for its kind");
            }
            volumes.put(v.getName(), d);
        }
        return volumes;
    }

    /** A file of a ConfigMap or Secret volume: defaultMode (0644 if unset), group readable by the fsGroup. */
    private static void secretOrConfigFile(Path file, String content, Integer defaultMode, Long fsGroup)
            throws IOException {
        Files.writeString(file, content);
        int mode = defaultMode != null ? defaultMode : 0644;
        if (fsGroup != null) {
            mode |= (mode & 0700) >> 3;
            chgrp(fsGroup, file);
        }
        chmod(Integer.toOctalString(mode), file);
    }

    /** The service account's files the kubelet mounts into every container (automountServiceAccountToken). */
    private static Path serviceAccount(Path dir, MockApi api) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("token"), "nodemesh-service-account-token");
        Files.copy(api.certificate(), dir.resolve("ca.crt"));
        Files.writeString(dir.resolve("namespace"), NAMESPACE);
        for (String f : List.of("token", "ca.crt", "namespace")) {
            chmod("0644", dir.resolve(f));
        }
        return dir;
    }

    /** bin/nodemesh's choice of JVM flags for each command, from jvm-flags.properties, and nodemesh.jar. */
    private record JarLauncher(Path jar, Properties flags) implements ContainerProcess.Launcher {
        JarLauncher(Path jar) throws IOException {
            this(jar, new Properties());
            try (Reader r = Files.newBufferedReader(Manifests.repository("jvm-flags.properties"))) {
                flags.load(r);
            }
        }

        @Override
        public List<String> command(List<String> args) {
            List<String> argv = new ArrayList<>();
            argv.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            argv.addAll(words("jvm.flags"));
            if (daemon(args)) {
                argv.addAll(words("jvm.flags.daemon"));
            }
            if (args.getFirst().equals("agent")) {
                argv.addAll(words("jvm.flags.agent"));
            }
            argv.addAll(List.of("-jar", jar.toString()));
            argv.addAll(args);
            return argv;
        }

        @Override
        public Map<String, String> env(List<String> args) {
            return daemon(args) ? Map.of("MALLOC_ARENA_MAX", flags.getProperty("jvm.env.MALLOC_ARENA_MAX"))
                    : Map.of();
        }

        private static boolean daemon(List<String> args) {
            return args.getFirst().equals("proxy") || args.getFirst().equals("agent");
        }

        private List<String> words(String key) {
            return List.of(flags.getProperty(key).trim().split("\\s+"));
        }
    }

    /**
     * cli/target/nodemesh.jar, failing when it is missing or older than the classes it is built from; or, to measure
     * another build's pod with this test, the jar the system property {@code nodemesh.test.jar} names, as it is.
     */
    private static Path freshJar() throws IOException {
        String other = System.getProperty("nodemesh.test.jar");
        if (other != null) {
            return Path.of(other);
        }
        Path jar = Manifests.repository("cli/target/nodemesh.jar");
        String build = "build it with package (mvn -B -ntp -o package -pl daemonset -am -Dtest=DaemonSetRunsTest "
                + "-Dsurefire.failIfNoSpecifiedTests=false -Dnodemesh.aot.skip)";
        assertThat(jar).as("nodemesh.jar, which the containers run: " + build).isRegularFile();
        long built = Files.getLastModifiedTime(jar).toMillis();
        try (Stream<Path> modules = Files.list(Manifests.repository(""))) {
            for (Path module : modules.toList()) {
                Path classes = module.resolve("target/classes");
                if (!Files.isDirectory(classes) || List.of("daemonset", "test-harness", "jmh-bench")
                        .contains(module.getFileName().toString())) {
                    continue;
                }
                try (Stream<Path> files = Files.walk(classes)) {
                    Path newer = files.filter(f -> Files.isRegularFile(f) && lastModified(f) > built).findFirst()
                            .orElse(null);
                    assertThat(newer).as(jar + " is older than " + newer + ": " + build).isNull();
                }
            }
        }
        return jar;
    }

    private static long lastModified(Path f) {
        try {
            return Files.getLastModifiedTime(f).toMillis();
        } catch (IOException e) {
            return Long.MAX_VALUE;
        }
    }

    /** A GET on the pod's loopback from inside its namespace, as the kubelet's probe reaches the pod: "status body". */
    private static String get(Netns netns, int port, String path) throws Exception {
        return netns.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 2_000);
                s.setSoTimeout(5_000);
                s.getOutputStream().write(("GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                return statusAndBody(s.getInputStream());
            }
        });
    }

    /** A GET over a Unix socket, as {@code nodemesh status} on the node reads the admin API: "status body". */
    private static String getOverUnixSocket(Path socket, String path) throws IOException {
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            ch.write(ByteBuffer.wrap(("GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            return statusAndBody(Channels.newInputStream(ch));
        }
    }

    private static String statusAndBody(InputStream in) throws IOException {
        String answer = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        int headersEnd = answer.indexOf("\r\n\r\n");
        String status = answer.split(" ", 3).length > 1 ? answer.split(" ", 3)[1] : answer;
        return status + " " + (headersEnd < 0 ? "" : answer.substring(headersEnd + 4));
    }

    /** Polls {@code check} until true; fails after {@link #READY_WITHIN} with the containers' output. */
    private void await(String what, Callable<Boolean> check) throws InterruptedException {
        await(what, READY_WITHIN, check);
    }

    /** Polls {@code check} until true; fails after {@code within} with the containers' output. */
    private void await(String what, Duration within, Callable<Boolean> check) throws InterruptedException {
        long deadline = System.nanoTime() + within.toNanos();
        String last = "never true";
        while (System.nanoTime() < deadline) {
            for (ContainerProcess p : running) {
                if (!p.alive()) {
                    throw new AssertionError(what + ": " + p + " exited; its output:\n" + p.output());
                }
            }
            try {
                if (check.call()) {
                    return;
                }
                last = "not yet";
            } catch (Exception e) {
                last = e.toString();
            }
            Thread.sleep(200);
        }
        StringBuilder message = new StringBuilder(what + ": not within " + within.toSeconds() + " s (last: "
                + last + ")");
        for (ContainerProcess p : running) {
            message.append("\n--- ").append(p).append(":\n").append(p.output());
        }
        throw new AssertionError(message.toString());
    }

    private static void requireTools(String... tools) {
        for (String tool : tools) {
            // Never a skip: the packages come with .ci/run (util-linux, coreutils, mount).
            assertThat(Commands.run("sh", "-c", "command -v " + tool).ok())
                    .as(tool + " is needed to run the pod's containers (Debian: util-linux / coreutils / mount)")
                    .isTrue();
        }
    }

    private static void chmod(String mode, Path p) {
        Commands.run("chmod", mode, p.toString()).requireOk();
    }

    private static void chgrp(Long group, Path p) {
        Commands.run("chgrp", String.valueOf(group), p.toString()).requireOk();
    }
}
