package io.nodemesh.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.cni.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code nodemesh install-cni} and {@code nodemesh cni status} as an operator types them, on a node made of temp dirs. */
class InstallCniCommandTest {

    private static final String JAVA_HOME = "/usr/lib/jvm/temurin-25-jdk-amd64";
    /** A Calico-style conflist, as Calico's install-cni writes it. */
    private static final String CALICO = """
            {
              "name": "k8s-pod-network",
              "cniVersion": "0.3.1",
              "plugins": [
                {
                  "type": "calico",
                  "datastore_type": "kubernetes",
                  "mtu": 0,
                  "ipam": {"type": "calico-ipam"},
                  "policy": {"type": "k8s"},
                  "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}
                },
                {"type": "bandwidth", "capabilities": {"bandwidth": true}},
                {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}
              ]
            }
            """;

    @TempDir
    Path tmp;
    Path bin;
    Path conf;
    Path source;
    Path state;
    Path calico;

    @BeforeEach
    void node() throws Exception {
        bin = tmp.resolve("bin");
        conf = Files.createDirectories(tmp.resolve("net.d"));
        state = Files.createDirectories(tmp.resolve("run"));
        source = tmp.resolve("cni");
        Files.createDirectories(source.resolve("nodemesh-cni.d"));
        Files.writeString(source.resolve("nodemesh-cni"), "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(source.resolve("nodemesh-cni"), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.write(source.resolve("nodemesh-cni.d/nodemesh-cni.jar"), new byte[2048]);
        calico = conf.resolve("10-calico.conflist");
        Files.writeString(calico, CALICO);
    }

    private String[] install(String... more) {
        List<String> args = new ArrayList<>(List.of("install-cni", "--cni-bin-dir", bin.toString(), "--cni-conf-dir",
                conf.toString(), "--plugin-source", source.toString(), "--java-home", JAVA_HOME, "--state-dir",
                state.toString()));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    private String[] status(String... more) {
        List<String> args = new ArrayList<>(List.of("cni", "status", "--cni-conf-dir", conf.toString(), "--state-dir",
                state.toString()));
        args.addAll(List.of(more));
        return args.toArray(String[]::new);
    }

    @Test
    void installsReportsInSyncChangesNothingTheSecondTimeAndUninstallsToTheOriginal() throws Exception {
        CommandRun run = new CommandRun();
        assertThat(run.nodemesh(install())).isZero();
        assertThat(run.out()).contains("installed the plugin: " + bin.resolve("nodemesh-cni"),
                "inserted nodemesh (nodemesh-cni) last in " + calico);
        assertThat(run.err()).isEmpty();
        List<?> plugins = (List<?>) Json.parseObject(Files.readAllBytes(calico)).get("plugins");
        assertThat(plugins).hasSize(4);
        assertThat(((Map<?, ?>) plugins.getLast()).get("stateDir")).isEqualTo(state.toString());

        CommandRun again = new CommandRun();
        assertThat(again.nodemesh(install())).isZero();
        assertThat(again.out()).isEqualTo("nothing to do: the plugin is in " + bin + " and chained last in the config of "
                + conf + "\n");

        CommandRun status = new CommandRun();
        assertThat(status.nodemesh(status())).isZero();
        assertThat(status.out()).startsWith("plugin:  installed: nodemesh-cni and nodemesh-cni.d/ in " + bin
                        + " (3 files, 2.0 KiB; java " + JAVA_HOME + ")\n"
                        + "config:  in sync: our entry is last in 10-calico.conflist, as the installer wrote it [" + calico
                        + "] (installed ")
                .contains("LAST   RESULT        POD  CONTAINER  AT  MILLIS  ERROR\n", "ADD    no ADD yet", "CHECK  no CHECK yet");

        CommandRun json = new CommandRun();
        assertThat(json.nodemesh(status("-o", "json"))).isZero();
        Map<String, Object> answer = Json.parseObject(json.out().getBytes(UTF_8));
        assertThat(answer.get("inSync")).isEqualTo(true);
        assertThat(field(answer, "config", "state")).isEqualTo("in_sync");
        assertThat(field(answer, "config", "file")).isEqualTo(calico.toString());
        assertThat(field(answer, "plugin", "installed")).isEqualTo(true);
        assertThat(field(answer, "plugin", "binDir")).isEqualTo(bin.toString());

        CommandRun remove = new CommandRun();
        assertThat(remove.nodemesh(install("--uninstall"))).isZero();
        assertThat(remove.out()).contains("restored " + calico + " byte for byte", "removed the plugin");
        assertThat(calico).hasContent(CALICO.stripTrailing());
        assertThat(Files.readString(calico)).isEqualTo(CALICO);
        assertThat(bin.resolve("nodemesh-cni")).doesNotExist();

        CommandRun after = new CommandRun();
        assertThat(after.nodemesh(status("--cni-bin-dir", bin.toString()))).isEqualTo(1);
        assertThat(after.out()).startsWith("plugin:  not installed in " + bin + "\n"
                + "config:  not installed: not installed: no nodemesh entry in 10-calico.conflist, the config the runtime uses");
    }

    @Test
    void statusOnANodeWithNothingSaysSoPlainly() {
        CommandRun run = new CommandRun();
        assertThat(run.nodemesh("cni", "status", "--cni-bin-dir", tmp.resolve("none/bin").toString(), "--cni-conf-dir",
                tmp.resolve("none/net.d").toString(), "--state-dir", tmp.resolve("none/run").toString())).isEqualTo(1);
        assertThat(run.out()).isEqualTo("plugin:  not installed in " + tmp.resolve("none/bin") + "\n"
                + "config:  no config: no CNI config (.conflist, .conf or .json) in " + tmp.resolve("none/net.d") + "\n"
                + "\n"
                + "LAST   RESULT        POD  CONTAINER  AT  MILLIS  ERROR\n"
                + "ADD    no ADD yet    -    -          -   -       -\n"
                + "DEL    no DEL yet    -    -          -   -       -\n"
                + "CHECK  no CHECK yet  -    -          -   -       -\n");
        assertThat(run.err()).isEmpty();
    }

    @Test
    void statusTellsAConfigRewrittenByItsCniAndThePluginsLastCalls() throws Exception {
        assertThat(new CommandRun().nodemesh(install())).isZero();
        Files.writeString(calico, CALICO); // Calico wrote its config again: our entry is gone
        Files.writeString(state.resolve("cni-last-ADD.json"), "{\"command\":\"ADD\",\"pod\":\"shop/cart-7d9\","
                + "\"containerId\":\"c0ffee0123456789abcdef\",\"result\":\"captured\",\"at\":\"2026-12-05T17:00:00Z\",\"millis\":42}");
        Files.writeString(state.resolve("cni-last-DEL.json"), "{\"command\":\"DEL\",\"pod\":\"shop/cart-7d9\","
                + "\"containerId\":\"c0ffee0123456789abcdef\",\"result\":\"error\",\"error\":\"proxy down\",\"code\":11,"
                + "\"at\":\"2026-12-05T17:01:00Z\",\"millis\":3}");
        Files.writeString(state.resolve("cni-last-CHECK.json"), "{\"command\":");

        CommandRun run = new CommandRun();
        assertThat(run.nodemesh(status())).isEqualTo(1);
        assertThat(run.out()).contains("config:  out of sync: our entry is missing from 10-calico.conflist (rewritten since"
                + " the install, by its CNI?): pods start uncaptured [" + calico + "]");
        assertThat(run.out()).endsWith(""
                + "LAST   RESULT      POD            CONTAINER     AT                    MILLIS  ERROR\n"
                + "ADD    captured    shop/cart-7d9  c0ffee012345  2026-12-05T17:00:00Z  42      -\n"
                + "DEL    error       shop/cart-7d9  c0ffee012345  2026-12-05T17:01:00Z  3       proxy down (code 11)\n"
                + "CHECK  unreadable  -              -             -                     -       "
                + state.resolve("cni-last-CHECK.json") + " is unreadable: Unexpected end-of-input within/between Object"
                + " entries at line 1, column 12\n");
        assertThat(run.err()).isEmpty();

        CommandRun json = new CommandRun();
        assertThat(json.nodemesh(status("-o", "json"))).isEqualTo(1);
        Map<String, Object> answer = Json.parseObject(json.out().getBytes(UTF_8));
        assertThat(field(answer, "config", "state")).isEqualTo("out_of_sync");
        Map<?, ?> add = (Map<?, ?>) ((List<?>) answer.get("lastCalls")).getFirst();
        assertThat(((Map<?, ?>) add.get("last")).get("result")).isEqualTo("captured");
        assertThat(((Map<?, ?>) add.get("last")).get("millis")).isEqualTo(42L);

        assertThat(new CommandRun().nodemesh(install())).isZero(); // the repair
        assertThat(new CommandRun().nodemesh(status())).isZero();
    }

    @Test
    void failuresNameTheFileAndExitWithTwo() throws Exception {
        Files.writeString(calico, "{\"name\": \"k8s-pod-network\", \"plugins\": [");
        CommandRun broken = new CommandRun();
        assertThat(broken.nodemesh(install())).isEqualTo(2);
        assertThat(broken.err()).startsWith("nodemesh install-cni: 10-calico.conflist: not a valid CNI config (");
        assertThat(calico).hasContent("{\"name\": \"k8s-pod-network\", \"plugins\": [");

        Files.delete(calico);
        CommandRun empty = new CommandRun();
        assertThat(empty.nodemesh(install())).isEqualTo(2);
        assertThat(empty.err()).isEqualTo("nodemesh install-cni: " + conf
                + ": no CNI config (.conflist, .conf or .json) yet: the primary CNI has not written one\n");

        CommandRun badNamespace = new CommandRun();
        assertThat(badNamespace.nodemesh(install("--exclude-namespaces", "kube-system,Bad_NS"))).isEqualTo(2);
        assertThat(badNamespace.err()).startsWith("excluded namespace 'Bad_NS' is not a namespace name");
        CommandRun relative = new CommandRun();
        assertThat(relative.nodemesh(install("--control-socket", "cni.sock"))).isEqualTo(2);
        assertThat(relative.err()).startsWith("control socket 'cni.sock' must be an absolute path");
        CommandRun both = new CommandRun();
        assertThat(both.nodemesh(install("--watch", "--uninstall"))).isEqualTo(2);
        assertThat(both.err()).startsWith("--watch and --uninstall: choose one");
        CommandRun output = new CommandRun();
        assertThat(output.nodemesh(status("-o", "yaml"))).isEqualTo(2);
        assertThat(output.err()).isEqualTo("nodemesh cni status: -o: 'yaml' is not table or json\n");
    }

    @Test
    void theWatcherWaitsForAConfigRepairsAndOnSigtermLeavesEverythingInstalled() throws Exception {
        Files.delete(calico);
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "-cp", System.getProperty("java.class.path"), NodemeshCommand.class.getName()));
        command.addAll(List.of(install("--watch", "--recheck-interval", "200ms")));
        Path log = tmp.resolve("watcher.log");
        Process watcher = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        Supplier<String> output = () -> {
            try {
                return Files.readString(log);
            } catch (java.io.IOException e) {
                return e.toString();
            }
        };
        try {
            waitFor(() -> output.get().contains("waiting for one"), output);
            Files.writeString(calico, CALICO);
            waitFor(() -> oursLast(calico), output);
            Files.writeString(calico, CALICO); // the primary CNI writes its config again
            waitFor(() -> output.get().split("inserted nodemesh", -1).length == 3 && oursLast(calico), output);
            byte[] installed = Files.readAllBytes(calico);

            watcher.destroy(); // SIGTERM, as the kubelet stops a pod
            assertThat(watcher.waitFor(15, TimeUnit.SECONDS)).as(output.get()).isTrue();
            assertThat(output.get()).as("exit " + watcher.exitValue()).contains("stopped watching; the plugin stays installed and chained");
            assertThat(calico).hasBinaryContent(installed);
            assertThat(bin.resolve("nodemesh-cni")).isExecutable();
            assertThat(bin.resolve("nodemesh-cni.d/nodemesh-cni.jar")).exists();
            assertThat(new CommandRun().nodemesh(status())).isZero();
        } finally {
            watcher.destroyForcibly();
        }
    }

    private static Object field(Map<String, Object> json, String object, String name) {
        return ((Map<?, ?>) json.get(object)).get(name);
    }

    private static boolean oursLast(Path file) {
        try {
            List<?> plugins = (List<?>) Json.parseObject(Files.readAllBytes(file)).get("plugins");
            return "nodemesh-cni".equals(((Map<?, ?>) plugins.getLast()).get("type"));
        } catch (Exception e) {
            return false;
        }
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, Supplier<String> output) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited 15 s; the watcher said:\n" + output.get()).isLessThan(end);
            Thread.sleep(50);
        }
    }
}
