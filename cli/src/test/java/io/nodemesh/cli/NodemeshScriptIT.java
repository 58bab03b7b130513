package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bin/nodemesh status} as an operator runs it, against a real admin server, with the AOT cache the build trained
 * (cli/pom.xml), with a stale one, a broken one and none: the answer is the same each time, and only the trained cache
 * is used. Runs after {@code package} (failsafe), which built the jar and the cache.
 */
final class NodemeshScriptIT {

    private static final Path SCRIPT = Path.of("..", "bin", "nodemesh").toAbsolutePath().normalize();
    private static final Path JAR = Path.of("target", "nodemesh.jar").toAbsolutePath();
    private static final Path CACHE = Path.of("target", "nodemesh-cli-status.aot").toAbsolutePath();
    /** What -Xlog:class+load says of a class the AOT cache held. */
    private static final String PROXY_CLASS = "io.nodemesh.proxy.NodeProxy";
    private static final String PICOCLI_CLASS = "picocli.CommandLine";
    private static final String FROM_CACHE = "io.nodemesh.cli.StatusCommand source: shared objects file";

    @TempDir
    static Path dir;

    private static CliServers servers;
    private static String expected;

    @BeforeAll
    static void startServers() throws Exception {
        servers = CliServers.start(dir);
        StringWriter out = new StringWriter();
        assertThat(DebugCli.run(new String[] {"status", "--admin", servers.admin()}, new PrintWriter(out),
                new PrintWriter(new StringWriter()))).isZero();
        expected = out.toString();
        assertThat(expected).contains(CliServers.CONFIG_FILE);
    }

    @AfterAll
    static void stopServers() {
        servers.close();
    }

    /** What one run of the script printed. */
    private record Run(int status, String out, String err) {
    }

    /** bin/nodemesh status with NODEMESH_CLI_AOT={@code cache} (null: the built one) and NODEMESH_JAVA_OPTS. */
    private static Run status(String cache, String javaOpts) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(SCRIPT.toString(), "status", "--admin", servers.admin());
        Map<String, String> env = pb.environment();
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.remove("NODEMESH_CLI_AOT");
        if (cache != null) {
            env.put("NODEMESH_CLI_AOT", cache);
        }
        env.put("NODEMESH_JAVA_OPTS", javaOpts);
        Process p = pb.start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        String out = read(p.getInputStream());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), out, err.get());
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void answersFromTheTrainedCache() throws Exception {
        for (String command : CliAotCacheBuilder.COMMANDS) {
            Path cache = Path.of("target", "nodemesh-cli-" + command + ".aot");
            assertThat(cache).as("built at package by CliAotCacheBuilder").isRegularFile();
            assertThat(Files.getLastModifiedTime(cache)).isGreaterThan(Files.getLastModifiedTime(JAR));
        }
        Run run = status(null, "-Xlog:class+load:stderr");
        assertThat(run.status()).as(run.err()).isZero();
        assertThat(run.out()).isEqualTo(expected);
        assertThat(run.err()).contains(FROM_CACHE).doesNotContain("picocli.CommandLine source:");
    }

    @Test
    void answersTheSameWithoutAUsableCache() throws Exception {
        Path stale = dir.resolve("stale.aot");
        Files.copy(CACHE, stale, StandardCopyOption.REPLACE_EXISTING);
        Files.setLastModifiedTime(stale, FileTime.fromMillis(Files.getLastModifiedTime(JAR).toMillis() - 60_000));
        Path broken = dir.resolve("broken.aot");
        Files.writeString(broken, "not an AOT cache");
        Path missing = dir.resolve("missing.aot");
        for (Path cache : new Path[] {stale, broken, missing}) {
            Run logged = status(cache.toString(), "-Xlog:class+load:stderr");
            assertThat(logged.status()).as(cache + ": " + logged.err()).isZero();
            assertThat(logged.out()).as(cache.toString()).isEqualTo(expected);
            assertThat(logged.err()).as(cache.toString()).doesNotContain(FROM_CACHE)
                    .contains("io.nodemesh.cli.StatusCommand source: file:");
            Run quiet = status(cache.toString(), "");
            assertThat(quiet).as(cache.toString()).isEqualTo(new Run(0, expected, ""));
        }
    }

    @Test
    void theProxyStartsFromItsTrainedCacheUnlessToldNotTo() throws Exception {
        Path cache = Path.of("target", "nodemesh-proxy.aot");
        org.junit.jupiter.api.Assumptions.assumeTrue("0".equals(uid()) || Files.isRegularFile(cache),
                "the proxy's AOT cache is trained as root only (ProxyAotCacheBuilder); not root here");
        assertThat(cache).as("built at package by ProxyAotCacheBuilder").isRegularFile();
        assertThat(Files.getLastModifiedTime(cache)).isGreaterThan(Files.getLastModifiedTime(JAR));
        // picocli too: its own jar's Java 5 classes could not be in the cache; the build compiles it (picocli/pom.xml).
        assertThat(proxyClassSources(null)).containsEntry(PROXY_CLASS, "shared objects file")
                .containsEntry(PICOCLI_CLASS, "shared objects file");
        assertThat(proxyClassSource("")).startsWith("file:"); // NODEMESH_PROXY_AOT= : without
        Path stale = dir.resolve("stale-proxy.aot");
        Files.copy(cache, stale, StandardCopyOption.REPLACE_EXISTING);
        Files.setLastModifiedTime(stale, FileTime.fromMillis(Files.getLastModifiedTime(JAR).toMillis() - 60_000));
        assertThat(proxyClassSource(stale.toString())).startsWith("file:");
    }

    private static String uid() throws IOException {
        return String.valueOf(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    }

    private static String proxyClassSource(String cache) throws Exception {
        return proxyClassSources(cache).get(PROXY_CLASS);
    }

    /**
     * Starts bin/nodemesh proxy (no pods) with NODEMESH_PROXY_AOT={@code cache} (null: unset, the built one) until it
     * is ready; where the JVM took NodeProxy and picocli's CommandLine from ({@code -Xlog:class+load}).
     */
    private static Map<String, String> proxyClassSources(String cache) throws Exception {
        Path config = Files.writeString(dir.resolve("proxy.yaml"), "proxy: { rules: none }\npods: []\n");
        Path log = dir.resolve("proxy-classes.log");
        Path out = dir.resolve("proxy.out");
        Files.deleteIfExists(log);
        ProcessBuilder pb = new ProcessBuilder(SCRIPT.toString(), "proxy", "--config", config.toString(),
                "--no-telemetry", "--admin", "127.0.0.1:0", "--readiness", "127.0.0.1:0",
                "--admin-socket", dir.resolve("admin-" + System.nanoTime() + ".sock").toString())
                .redirectErrorStream(true)
                .redirectOutput(out.toFile());
        Map<String, String> env = pb.environment();
        env.put("JAVA_HOME", System.getProperty("java.home"));
        env.remove("NODEMESH_PROXY_JVM_FLAGS");
        env.remove("NODEMESH_PROXY_AOT");
        if (cache != null) {
            env.put("NODEMESH_PROXY_AOT", cache);
        }
        env.put("NODEMESH_JAVA_OPTS", "-Xlog:class+load:file=" + log);
        Process p = pb.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(out).contains("proxy started")) {
                assertThat(p.isAlive()).as("the proxy exited: %s", Files.readString(out)).isTrue();
                assertThat(System.nanoTime()).as("the proxy did not start: %s", Files.readString(out))
                        .isLessThan(deadline);
                Thread.sleep(20);
            }
        } finally {
            java.util.List<ProcessHandle> all = new java.util.ArrayList<>(p.descendants().toList());
            all.add(p.toHandle());
            all.forEach(ProcessHandle::destroy);
            for (ProcessHandle h : all) {
                h.onExit().get(30, TimeUnit.SECONDS);
            }
        }
        Map<String, String> sources = new HashMap<>();
        for (String name : List.of(PROXY_CLASS, PICOCLI_CLASS)) {
            String line = Files.readAllLines(log).stream().filter(l -> l.contains(" " + name + " source: "))
                    .findFirst().orElseThrow(() -> new AssertionError(name + " was not loaded"));
            sources.put(name, line.substring(line.indexOf("source: ") + "source: ".length()));
        }
        return sources;
    }
}
