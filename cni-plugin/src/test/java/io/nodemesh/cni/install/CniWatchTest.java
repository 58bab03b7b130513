package io.nodemesh.cni.install;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.testing.cni.WatcherLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * nodemesh-cni-watch (src/main/native/nodemesh-cni-watch.c, built at compile into target/), the DaemonSet's install-cni
 * sidecar, as a real process on real directories: with the real installer on a {@link FakeNode} ({@link InstallOnce} in
 * a JVM of its own per run, as the sidecar runs {@code nodemesh install-cni}), and with a shell script that counts its
 * runs and can write, fail or take its time, for the watcher's own rules.
 */
class CniWatchTest {

    private static final Path WATCH = Path.of("target/nodemesh-cni-watch").toAbsolutePath();

    @TempDir
    Path tmp;

    private final List<Process> started = new ArrayList<>();
    private Path log;

    @AfterEach
    void kill() throws InterruptedException {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void keepsThePluginChainedWithTheRealInstallerWhenThePrimaryCniWritesItsConfigAgain() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path calico = node.config("10-calico.conflist");
        Process watch = start(List.of("--dir", node.conf.toString(), "--dir", node.bin.toString(), "--recheck-seconds",
                "0", "--", ProcessHandle.current().info().command().orElseThrow(), "-cp",
                System.getProperty("java.class.path"), InstallOnce.class.getName(), tmp.toString()));
        within(Duration.ofSeconds(30), () -> InstallWatcherTest.oursLast(calico)
                && Files.isExecutable(node.bin.resolve("nodemesh-cni")));
        WatcherLog.awaitQuiet(log, watch.toHandle());

        for (int i = 0; i < 2; i++) {
            FakeNode.rewriteAsPrimary(calico, FakeNode.sample("10-calico.conflist"));
            within(Duration.ofSeconds(30), () -> InstallWatcherTest.oursLast(calico));
            WatcherLog.awaitQuiet(log, watch.toHandle());
        }
        CniInstallerTest.assertOursLastAndTheRestAsIn(calico, FakeNode.sample("10-calico.conflist"));

        Files.delete(node.bin.resolve("nodemesh-cni"));
        within(Duration.ofSeconds(30), () -> Files.isExecutable(node.bin.resolve("nodemesh-cni")));
        WatcherLog.awaitQuiet(log, watch.toHandle());
        assertThat(watch.isAlive()).isTrue();
        assertThat(output()).contains("watching " + node.conf, "(start)", node.conf + " changed",
                node.bin + " changed");
    }

    @Test
    void runsAtStartThenOnceForABurstOfChangesAndNotWithoutOne() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("net.d"));
        Path runs = tmp.resolve("runs");
        // A settle time that a busy machine cannot stretch the burst below.
        start(List.of("--dir", dir.toString(), "--recheck-seconds", "0", "--settle-ms", "400", "--",
                script("echo run >> " + runs)));
        within(Duration.ofSeconds(5), () -> count(runs) == 1);

        // A primary CNI's write: a temp file, then a rename over the config.
        Path temp = Files.writeString(dir.resolve(".10-podnet.conflist.tmp"), "{}");
        Files.move(temp, dir.resolve("10-podnet.conflist"));
        within(Duration.ofSeconds(5), () -> count(runs) == 2);
        Thread.sleep(1500);
        assertThat(count(runs)).as("one run for the burst, none without a change; it said:\n" + output()).isEqualTo(2);
    }

    @Test
    void aRunThatWritesIsFollowedByOneMoreRunAndNoLoop() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("net.d"));
        Path runs = tmp.resolve("runs");
        // Like an installer that rewrites the config every time: its own write must not run it forever.
        start(List.of("--dir", dir.toString(), "--recheck-seconds", "0", "--",
                script("echo run >> " + runs + "; date +%N > " + dir + "/always-written")));
        within(Duration.ofSeconds(5), () -> count(runs) == 2);
        Thread.sleep(1500);
        assertThat(count(runs)).as("it said:\n" + output()).isEqualTo(2);
        assertThat(output()).contains(dir + " changed while it ran");
    }

    @Test
    void aDirectoryThatIsMissingOrGoesAwayIsWaitedForAndWatchedAgain() throws Exception {
        Path dir = tmp.resolve("net.d");
        Path runs = tmp.resolve("runs");
        start(List.of("--dir", dir.toString(), "--recheck-seconds", "0", "--", script("echo run >> " + runs)));
        within(Duration.ofSeconds(5), () -> count(runs) == 1);
        Files.createDirectory(dir);
        within(Duration.ofSeconds(5), () -> count(runs) == 2);
        Files.writeString(dir.resolve("10-podnet.conflist"), "{}");
        within(Duration.ofSeconds(5), () -> count(runs) == 3);

        Files.delete(dir.resolve("10-podnet.conflist"));
        Files.delete(dir);
        within(Duration.ofSeconds(5), () -> output().contains(dir + " went away"));
        int before = count(runs);
        Files.createDirectory(dir);
        within(Duration.ofSeconds(5), () -> count(runs) > before && output().contains(dir + " is there: watching it"));
        int after = count(runs);
        Files.writeString(dir.resolve("10-podnet.conflist"), "{}");
        within(Duration.ofSeconds(5), () -> count(runs) > after);
        assertThat(output()).contains(dir + " does not exist (yet): looking for it every second");
    }

    @Test
    void aFailingRunIsTriedAgainAfterGrowingPausesOrAtTheNextChange() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("net.d"));
        Path runs = tmp.resolve("runs");
        Path status = Files.writeString(tmp.resolve("status"), "3");
        start(List.of("--dir", dir.toString(), "--recheck-seconds", "0", "--",
                script("echo run >> " + runs + "; exit $(cat " + status + ")")));
        within(Duration.ofSeconds(8), () -> count(runs) == 3);
        assertThat(output()).contains("exited with status 3: trying again in 1 s", "exited with status 3: trying again "
                + "in 2 s");

        Files.writeString(status, "0");
        Files.writeString(dir.resolve("10-podnet.conflist"), "{}"); // sooner than the 4 s pause
        within(Duration.ofSeconds(2), () -> count(runs) == 4);
        Thread.sleep(1500);
        assertThat(count(runs)).as("no more tries once a run succeeded; it said:\n" + output()).isEqualTo(4);
    }

    @Test
    void runsAgainEveryRecheckWithoutAChange() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("net.d"));
        Path runs = tmp.resolve("runs");
        start(List.of("--dir", dir.toString(), "--recheck-seconds", "1", "--", script("echo run >> " + runs)));
        within(Duration.ofSeconds(6), () -> count(runs) >= 3);
        assertThat(output()).contains("(periodic re-check)");
    }

    @Test
    void sigtermLetsARunningCommandFinishThenExitsZeroLeavingItsWork() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("net.d"));
        Path begun = tmp.resolve("begun");
        Path done = tmp.resolve("done");
        Process watch = start(List.of("--dir", dir.toString(), "--", script("touch " + begun + "; sleep 1; touch "
                + done)));
        within(Duration.ofSeconds(5), () -> Files.exists(begun));
        watch.destroy(); // SIGTERM
        assertThat(watch.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(watch.exitValue()).isZero();
        assertThat(done).as("the run under way was let finish").exists();
        assertThat(output()).contains("asked to stop: letting the running", "stopped; what is installed stays installed");
    }

    @Test
    void asAContainersPid1ItStopsOnSigtermAndReapsOrphans() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("net.d"));
        Path runs = tmp.resolve("runs");
        // Its own PID namespace, as in a container: the script's background sleep is orphaned to it.
        Process unshare = start(List.of(), List.of("unshare", "--pid", "--fork", "--kill-child", WATCH.toString(),
                "--dir", dir.toString(), "--recheck-seconds", "0", "--",
                script("echo run >> " + runs + "; sleep 0.2 & exit 0")));
        within(Duration.ofSeconds(5), () -> count(runs) == 1 && unshare.children().findAny().isPresent());
        ProcessHandle pid1 = unshare.children().findFirst().orElseThrow();
        Thread.sleep(1000);
        assertThat(zombieChildren(pid1)).as("orphans reaped").isEmpty();

        new ProcessBuilder("kill", "-TERM", String.valueOf(pid1.pid())).start().waitFor();
        assertThat(unshare.waitFor(5, TimeUnit.SECONDS)).as("it said:\n" + output()).isTrue();
        assertThat(output()).contains("stopped; what is installed stays installed");
    }

    @Test
    void aCommandThatCannotRunIsToldAndTriedAgain() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("net.d"));
        start(List.of("--dir", dir.toString(), "--", tmp.resolve("no-such-installer").toString()));
        within(Duration.ofSeconds(5), () -> output().contains("cannot run " + tmp.resolve("no-such-installer")
                + ": No such file or directory") && output().contains("exited with status 127: trying again in 1 s"));
    }

    @Test
    void badArgumentsExitTwoSayingWhat() throws Exception {
        assertRefused(List.of(), "no --dir to watch");
        assertRefused(List.of("--dir", "/tmp"), "no command after --");
        assertRefused(List.of("--dir", "/tmp", "--"), "no command after --");
        assertRefused(List.of("--dir", "/tmp", "true"), "unknown argument \"true\" (the command goes after --)");
        assertRefused(List.of("--dir", "/tmp", "--recheck-seconds", "soon", "--", "true"),
                "--recheck-seconds wants a whole number from 0 to 2592000, not \"soon\"");
        assertRefused(List.of("--dir", "/tmp", "--settle-ms", "-1", "--", "true"),
                "--settle-ms wants a whole number from 0 to 10000, not \"-1\"");
        assertRefused(List.of("--dir"), "--dir wants a value");
    }

    private void assertRefused(List<String> args, String message) throws Exception {
        Process p = start(args);
        assertThat(p.waitFor(5, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(args.toString()).isEqualTo(2);
        assertThat(output()).as(args.toString()).contains("nodemesh-cni-watch: " + message, "usage: nodemesh-cni-watch");
    }

    private Process start(List<String> args) throws IOException {
        List<String> command = new ArrayList<>(List.of(WATCH.toString()));
        command.addAll(args);
        return start(args, command);
    }

    private Process start(List<String> args, List<String> command) throws IOException {
        assertThat(WATCH).as("built by cni-plugin's compile (gcc)").isExecutable();
        log = tmp.resolve("watch-" + started.size() + ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        started.add(p);
        return p;
    }

    private String script(String body) throws IOException {
        Path script = tmp.resolve("command-" + started.size() + ".sh");
        Files.writeString(script, "#!/bin/sh\n" + body + "\n", UTF_8);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script.toString();
    }

    private String output() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no output: " + e + ")";
        }
    }

    private static int count(Path runs) {
        try {
            return Files.readAllLines(runs).size();
        } catch (NoSuchFileException e) {
            return 0;
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private static List<Long> zombieChildren(ProcessHandle parent) throws IOException {
        List<Long> zombies = new ArrayList<>();
        for (ProcessHandle child : parent.children().toList()) {
            try {
                String stat = Files.readString(Path.of("/proc", String.valueOf(child.pid()), "stat"));
                if (stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z")) {
                    zombies.add(child.pid());
                }
            } catch (NoSuchFileException e) {
                // gone meanwhile
            }
        }
        return zombies;
    }

    private void within(Duration limit, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + limit + "; nodemesh-cni-watch said:\n" + output());
            }
            Thread.sleep(20);
        }
    }
}
