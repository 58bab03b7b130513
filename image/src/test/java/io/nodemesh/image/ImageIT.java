package io.nodemesh.image;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.testing.cni.WatcherLog;
import java.io.IOException;
import java.io.Reader;
import java.net.ConnectException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.Timeout;

/**
 * The built image (target/nodemesh-image.tar) unpacked and run as a container runtime would run it: its entrypoint
 * answers {@code --version}, the agent and the proxy start from it with the flags of its jvm-flags.properties and
 * answer on loopback (metrics, readiness, admin through the image's debugging command), its rules commands apply the
 * redirect rules with the image's iptables and nft, the CNI plugin runs on its own JRE inside the image and, installed
 * by the image's {@code install-cni}, outside it.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(180)
final class ImageIT {

    private static final Path IMAGE_TAR = Path.of(System.getProperty("nodemesh.image.tar", "target/nodemesh-image.tar"));
    private static final Path STAGED_ROOT = Path.of(System.getProperty("nodemesh.image.root", "target/root"));
    private static final Duration START = Duration.ofSeconds(90);

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private final Path logs = Path.of("target/image-it");
    private UnpackedImage image;

    @BeforeAll
    void unpack() throws Exception {
        image = UnpackedImage.unpack(IMAGE_TAR, Path.of("target"));
        Files.createDirectories(logs);
    }

    @AfterAll
    void remove() throws Exception {
        if (image != null) {
            image.close();
        }
    }

    @Test
    void theEntrypointAnswersVersionFromTheImagesOwnJava() throws Exception {
        assertThat(image.entrypoint()).containsExactly("/opt/nodemesh/bin/nodemesh");
        UnpackedImage.Result version = image.run(Duration.ofSeconds(60), Map.of(), null, withEntrypoint("--version"));
        assertThat(version.exitCode()).as(version.stderr()).isZero();
        assertThat(version.stdout()).startsWith("nodemesh 0.1.0").contains("Java 25");
        // On PATH too, as `kubectl exec … -- nodemesh status` needs it.
        UnpackedImage.Result onPath = image.run(Duration.ofSeconds(60), Map.of(), null, List.of("nodemesh", "--version"));
        assertThat(onPath.stdout()).isEqualTo(version.stdout());
    }

    @Test
    void theImageHoldsTheStagedTreeWithItsModes() throws IOException {
        // Jib writes 644 for every file the pom does not name: an executable it was not told about would be one here.
        Path inImage = image.root().resolve("opt/nodemesh");
        Map<String, String> staged = describe(STAGED_ROOT.resolve("opt/nodemesh"));
        assertThat(staged).containsKeys("bin/nodemesh", "bin/nodemesh-cni-watch", "bin/nodemesh-keeper",
                "lib/nodemesh.jar",
                "lib/nodemesh-proxy.aot", "jre/bin/java", "jvm-flags.properties",
                "cni/nodemesh-cni", "cni/nodemesh-cni.d/jre/bin/java", "cni/nodemesh-cni.d/cni-plugin.jar");
        assertThat(describe(inImage)).isEqualTo(staged);
        // The plugin's java-home named the build machine's JDK; on a node only its own jre/ can be found.
        assertThat(inImage.resolve("cni/nodemesh-cni.d/java-home")).doesNotExist();
        for (String tool : List.of("usr/sbin/iptables-restore", "usr/sbin/ip6tables-restore", "usr/sbin/nft",
                "usr/bin/nsenter")) {
            assertThat(image.root().resolve(tool)).as(tool).exists();
        }
    }

    @Test
    void theAgentAndTheProxyStartFromTheImageAndAnswer() throws Exception {
        int metrics = freePort();
        int admin = freePort();
        int readiness = freePort();
        Path config = image.root().resolve("etc/nodemesh/standalone.yaml");
        Files.createDirectories(config.getParent());
        // No pods: nothing to capture, so no rules to apply; ready once this (empty) first snapshot is reconciled.
        Files.writeString(config, """
                proxy:
                  rules: none
                  admin: 127.0.0.1:%d
                  readiness: 127.0.0.1:%d
                  adminSocket: /run/nodemesh/admin.sock
                """.formatted(admin, readiness));
        Process agent = image.start(logs.resolve("agent.log"), Map.of(), withEntrypoint("agent",
                "--socket", "/run/nodemesh/telemetry.sock", "--metrics-address", "127.0.0.1:" + metrics));
        // Where the JVM takes the proxy's classes from: the AOT cache trained on this JRE (stage-root.sh).
        Process proxy = image.start(logs.resolve("proxy.log"),
                Map.of("NODEMESH_JAVA_OPTS", "-Xlog:class+load:file=/tmp/proxy-classes.log"), withEntrypoint("proxy",
                "--config", "/etc/nodemesh/standalone.yaml", "--telemetry-socket", "/run/nodemesh/telemetry.sock"));

        awaitStatus(proxy, "http://127.0.0.1:" + readiness + "/healthz/ready", logs.resolve("proxy.log"));
        awaitStatus(agent, "http://127.0.0.1:" + metrics + "/metrics", logs.resolve("agent.log"));

        Properties flags = flagsInImage();
        List<String> proxyLine = javaCommandLine(proxy);
        assertThat(proxyLine).containsSubsequence(words(flags, "jvm.flags"))
                .containsSubsequence(words(flags, "jvm.flags.daemon"))
                .contains("-XX:AOTCache=/opt/nodemesh/lib/nodemesh-proxy.aot")
                .containsSequence("-jar", "/opt/nodemesh/lib/nodemesh.jar", "proxy");
        assertThat(Files.readAllLines(image.root().resolve("tmp/proxy-classes.log")))
                .as("the proxy's JVM maps the image's AOT cache").anyMatch(l -> l.contains(
                        " io.nodemesh.proxy.NodeProxy source: shared objects file"));
        assertThat(proxyLine.getFirst()).isEqualTo("/opt/nodemesh/jre/bin/java");
        assertThat(javaEnvironment(proxy)).contains("MALLOC_ARENA_MAX=" + flags.getProperty("jvm.env.MALLOC_ARENA_MAX"));
        assertThat(javaCommandLine(agent)).containsSubsequence(words(flags, "jvm.flags.daemon"))
                .containsSubsequence(words(flags, "jvm.flags.agent"));

        // The image's debugging command reads the proxy's admin API (DebugCli, started with jvm.flags.cli).
        UnpackedImage.Result status = image.run(Duration.ofSeconds(60), Map.of(), null,
                withEntrypoint("status", "--admin", "127.0.0.1:" + admin));
        assertThat(status.exitCode()).as(status.stdout() + status.stderr()).isZero();
    }

    @Test
    void theImagesRulesToolsApplyCheckAndRemoveTheRedirectRules() throws Exception {
        // What the proxy does for every captured pod (nsenter + iptables-restore or nft -f, from the image's Debian),
        // here in a network namespace of the command's own, which goes when it ends.
        String script = """
                set -e
                for backend in iptables nft; do
                  nodemesh rules apply --netns /proc/1/ns/net --backend $backend --pod demo/client
                  nodemesh rules check --netns /proc/1/ns/net --backend $backend --pod demo/client
                  nodemesh rules remove --netns /proc/1/ns/net --backend $backend
                done
                iptables-save; nft list ruleset
                """;
        UnpackedImage.Result rules = image.run(true, Duration.ofSeconds(120), Map.of(), null,
                List.of("/bin/sh", "-c", script));
        assertThat(rules.exitCode()).as(rules.stdout() + rules.stderr()).isZero();
        assertThat(rules.stdout()).contains("applied nodemesh rules (iptables)", "applied nodemesh rules (nft)",
                "removed nodemesh rules (iptables)", "removed nodemesh rules (nft)")
                // what is left after the removes: no chain of ours
                .doesNotContain("NODEMESH", "table inet nodemesh");
    }

    @Test
    void theCniPluginRunsOnItsOwnJreInTheImageAndInstalledOnTheHost() throws Exception {
        String request = "{\"cniVersion\":\"1.0.0\"}";
        // AOTMode=on: a JVM given an AOT cache it cannot use refuses to start (instead of running without it).
        Map<String, String> version = Map.of("CNI_COMMAND", "VERSION", "JDK_JAVA_OPTIONS", "-XX:AOTMode=on");
        UnpackedImage.Result inImage = image.run(Duration.ofSeconds(60), version, request,
                List.of("/opt/nodemesh/cni/nodemesh-cni"));
        assertVersionAnswer(inImage);
        // The launcher passes the plugin's AOT cache, trained on this JRE (stage-root.sh), and the JVM maps it: the
        // archive it prints is that cache, holding the plugin's own classes (the JRE's CDS archive has none).
        assertUsesItsAotCache(image.run(Duration.ofSeconds(60), Map.of("CNI_COMMAND", "VERSION",
                "JDK_JAVA_OPTIONS", "-XX:+PrintSharedArchiveAndExit"), request,
                List.of("/opt/nodemesh/cni/nodemesh-cni")));

        // install-cni from the image into a "host" directory, then the installed plugin run outside the image with no
        // Java named anywhere (no JAVA_HOME, no java-home file): it must find the jre/ copied beside it.
        Path host = image.root().resolve("host");
        Path binDir = host.resolve("opt/cni/bin");
        Path confDir = Files.createDirectories(host.resolve("etc/cni/net.d"));
        Files.writeString(confDir.resolve("10-bridge.conflist"), """
                {"cniVersion":"1.0.0","name":"pods","plugins":[{"type":"bridge","bridge":"cni0",
                 "ipam":{"type":"host-local","subnet":"10.88.0.0/16"}}]}
                """);
        // As the DaemonSet's install-cni sidecar runs it: nodemesh-cni-watch (on PATH, PID 1 of its PID namespace)
        // runs `nodemesh install-cni` at start and again when the primary CNI writes its config anew.
        Path watchLog = image.root().resolveSibling("install-cni.log");
        Process watch = image.start(watchLog, Map.of(), List.of("nodemesh-cni-watch", "--dir", "/host/etc/cni/net.d",
                "--dir", "/host/opt/cni/bin", "--", "nodemesh", "install-cni", "--cni-bin-dir", "/host/opt/cni/bin",
                "--cni-conf-dir", "/host/etc/cni/net.d"));
        Path conflist = confDir.resolve("10-bridge.conflist");
        String primary = Files.readString(conflist);
        await(watchLog, Duration.ofSeconds(60), () -> Files.readString(conflist).contains("\"nodemesh-cni\"")
                && Files.isExecutable(binDir.resolve("nodemesh-cni.d/jre/bin/java")));
        ProcessHandle pid1 = watch.children().findFirst().orElseThrow();
        WatcherLog.awaitQuiet(watchLog, pid1); // the runs for the start and for the bin dir it made are over
        Path temp = Files.writeString(confDir.resolve(".10-bridge.conflist.tmp"), primary);
        Files.move(temp, conflist, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        await(watchLog, Duration.ofSeconds(60), () -> Files.readString(conflist).contains("\"nodemesh-cni\""));
        WatcherLog.awaitQuiet(watchLog, pid1);
        new ProcessBuilder("kill", "-TERM", String.valueOf(pid1.pid())).start().waitFor();
        assertThat(watch.waitFor(30, TimeUnit.SECONDS)).as(Files.readString(watchLog)).isTrue();
        assertThat(watch.exitValue()).as(Files.readString(watchLog)).isZero();
        assertThat(Files.readString(watchLog)).contains("running nodemesh install-cni (/host/etc/cni/net.d changed)",
                "stopped; what is installed stays installed");
        assertThat(Files.readString(conflist)).as("SIGTERM leaves the plugin chained").contains("\"nodemesh-cni\"");
        // The installer copies links as links (PluginFiles.copyTree); one pointing into the image would dangle here.
        try (Stream<Path> walk = Files.walk(binDir.resolve("nodemesh-cni.d"))) {
            assertThat(walk.filter(Files::isSymbolicLink).toList()).isEmpty();
        }

        Process plugin = new ProcessBuilder("/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "CNI_COMMAND=VERSION", "JDK_JAVA_OPTIONS=-XX:AOTMode=on",
                binDir.resolve("nodemesh-cni").toString()).redirectErrorStream(false).start();
        try (var in = plugin.getOutputStream()) {
            in.write(request.getBytes(StandardCharsets.UTF_8));
        }
        String stdout = new String(plugin.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String stderr = new String(plugin.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertVersionAnswer(new UnpackedImage.Result(plugin.waitFor(), stdout, stderr));

        // On the host too, after the installer's copy: the same cache, taken by the launcher and mapped by the JVM.
        Process printed = new ProcessBuilder("/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "CNI_COMMAND=VERSION",
                "JDK_JAVA_OPTIONS=-XX:+PrintSharedArchiveAndExit", binDir.resolve("nodemesh-cni").toString())
                .redirectErrorStream(true).start();
        printed.getOutputStream().close();
        String archive = new String(printed.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertUsesItsAotCache(new UnpackedImage.Result(printed.waitFor(), archive, ""));

        // An enrolled pod's ADD on the host with no proxy behind the socket: the installed plugin opens the namespace
        // and connects through its JNI library (nodemesh-cni.d/libnodemesh-cni.so, copied with the rest), and fails
        // closed with the kernel's reason.
        Path work = Files.createDirectories(host.resolve("run")).toAbsolutePath();
        Path refusing = Files.writeString(work.resolve("cni.sock"), ""); // a file, not a listening socket
        Path enrolment = Files.writeString(work.resolve("enrolment.json"),
                "{\"version\":1,\"generation\":1,\"enrolledNamespaces\":[\"shop\"]}");
        String add = "{\"cniVersion\":\"1.0.0\",\"name\":\"pods\",\"type\":\"nodemesh-cni\",\"controlSocket\":\""
                + refusing + "\",\"enrolmentFile\":\"" + enrolment + "\",\"stateDir\":\"" + work + "\",\"prevResult\":"
                + "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.88.0.5/16\"}]}}";
        Process enrolled = new ProcessBuilder("/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "CNI_COMMAND=ADD",
                "CNI_CONTAINERID=c0ffee", "CNI_NETNS=/proc/self/ns/net", "CNI_IFNAME=eth0",
                "CNI_ARGS=K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart;K8S_POD_UID=u-1",
                binDir.resolve("nodemesh-cni").toString()).start();
        try (var in = enrolled.getOutputStream()) {
            in.write(add.getBytes(StandardCharsets.UTF_8));
        }
        String failed = new String(enrolled.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String why = new String(enrolled.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(enrolled.waitFor()).as(failed + why).isEqualTo(1);
        JsonNode error = new ObjectMapper().readTree(failed);
        assertThat(error.get("code").asInt()).as(failed).isEqualTo(11);
        assertThat(error.get("details").asText()).as(failed).contains("connect to " + refusing, "Connection refused");
    }

    @Test
    void theListenerKeeperRunsFromTheImageAndLeavesNothingBehindOnSigterm() throws Exception {
        // As the DaemonSet's listener-keeper sidecar runs it: nodemesh-keeper on PATH (PID 1 of its PID namespace),
        // its socket in the run dir the pod mounts from the host (here the image's own /run/nodemesh).
        Files.createDirectories(image.root().resolve("run/nodemesh"));
        Path socket = image.root().resolve("run/nodemesh/keeper.sock");
        Path keeperLog = logs.resolve("keeper.log");
        Process keeper = image.start(keeperLog, Map.of(), List.of("nodemesh-keeper", "--socket",
                "/var/run/nodemesh/keeper.sock"));
        await(keeperLog, Duration.ofSeconds(30), () -> Files.exists(socket)
                && Files.readString(keeperLog).contains("listening at /var/run/nodemesh/keeper.sock"));
        // A socket, owner-only: the proxy, root, connects as its owner.
        assertThat((Integer) Files.readAttributes(socket, "unix:mode").get("mode") & 0170077).isEqualTo(0140000);
        ProcessHandle pid1 = keeper.children().findFirst().orElseThrow();
        new ProcessBuilder("kill", "-TERM", String.valueOf(pid1.pid())).start().waitFor();
        assertThat(keeper.waitFor(30, TimeUnit.SECONDS)).as(Files.readString(keeperLog)).isTrue();
        assertThat(keeper.exitValue()).as(Files.readString(keeperLog)).isZero();
        assertThat(socket).as("the keeper removes its socket on SIGTERM").doesNotExist();
    }

    private static void assertUsesItsAotCache(UnpackedImage.Result printed) {
        String all = printed.stdout() + printed.stderr();
        assertThat(printed.exitCode()).as(all).isZero();
        assertThat(all).as("the archive the plugin's JVM maps")
                .containsPattern("Static archive name: \\S*/nodemesh-cni\\.d/nodemesh-cni\\.aot")
                .contains("io.nodemesh.cni.CniPlugin app_loader");
    }

    private static void assertVersionAnswer(UnpackedImage.Result result) throws IOException {
        assertThat(result.exitCode()).as(result.stdout() + result.stderr()).isZero();
        // stdout is the CNI result, nothing else: one JSON object (a JVM warning there would break the runtime).
        JsonNode answer = new ObjectMapper().readTree(result.stdout());
        assertThat(answer.get("cniVersion").asText()).isEqualTo("1.0.0");
        assertThat(answer.get("supportedVersions").toString()).contains("\"1.0.0\"", "\"1.1.0\"");
    }

    private List<String> withEntrypoint(String... args) {
        List<String> argv = new ArrayList<>(image.entrypoint());
        argv.addAll(List.of(args));
        return argv;
    }

    /** Waits for {@code condition}; fails with the log of what runs when it does not hold within {@code limit}. */
    private static void await(Path log, Duration limit, Callable<Boolean> condition) throws Exception {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.call()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + limit + "; its output:\n" + Files.readString(log));
            }
            Thread.sleep(50);
        }
    }

    private void awaitStatus(Process process, String url, Path log) throws Exception {
        long deadline = System.nanoTime() + START.toNanos();
        String last = "nothing";
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new AssertionError("exited with " + process.exitValue() + " before " + url + " answered 200:\n"
                        + Files.readString(log));
            }
            try {
                HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create(url))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
                if (response.statusCode() == 200) {
                    return;
                }
                last = response.statusCode() + " " + response.body();
            } catch (ConnectException e) {
                last = "refused";
            }
            Thread.sleep(200);
        }
        throw new AssertionError(url + " did not answer 200 within " + START + " (last: " + last + "):\n"
                + Files.readString(log));
    }

    private Properties flagsInImage() throws IOException {
        Properties flags = new Properties();
        try (Reader in = Files.newBufferedReader(image.root().resolve("opt/nodemesh/jvm-flags.properties"))) {
            flags.load(in);
        }
        return flags;
    }

    private static List<String> words(Properties flags, String key) {
        return List.of(flags.getProperty(key).trim().split(" +"));
    }

    /** The command line of the java process the launcher became ({@code unshare} → {@code chroot} → … → java). */
    private static List<String> javaCommandLine(Process launcher) throws IOException {
        return List.of(Files.readString(procFile(launcher, "cmdline")).split("\0"));
    }

    private static List<String> javaEnvironment(Process launcher) throws IOException {
        return Arrays.asList(Files.readString(procFile(launcher, "environ")).split("\0"));
    }

    private static Path procFile(Process launcher, String name) {
        ProcessHandle java = launcher.descendants()
                .filter(p -> p.info().command().map(c -> c.endsWith("/bin/java")).orElse(false))
                .findFirst().orElseThrow(() -> new AssertionError("no java process under " + launcher.pid()));
        return Path.of("/proc", Long.toString(java.pid()), name);
    }

    /**
     * Relative path → size and whether it may be executed, for every file under {@code dir}. A symbolic link counts as
     * the file it points to: Jib copies the target (jlink links the legal notices of a JRE's modules to java.base's).
     */
    private static Map<String, String> describe(Path dir) throws IOException {
        Map<String, String> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.filter(Files::isRegularFile).toList()) {
                files.put(dir.relativize(p).toString(), Files.size(p) + (Files.isExecutable(p) ? " x" : " -"));
            }
        }
        return files;
    }

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0)) {
            return socket.getLocalPort();
        }
    }
}
