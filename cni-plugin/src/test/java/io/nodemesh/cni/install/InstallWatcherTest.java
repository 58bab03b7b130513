package io.nodemesh.cni.install;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.cni.Json;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InstallWatcherTest {

    /** Longer than any event takes to arrive, shorter than the test's patience: repairs here come from events. */
    private static final Duration RECHECK = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    private final List<String> log = new CopyOnWriteArrayList<>();
    private InstallWatcher watcher;
    private Thread thread;

    private void start(FakeNode node, Duration recheck) throws Exception {
        watcher = new InstallWatcher(node.installer(), recheck, log::add);
        thread = Thread.ofPlatform().name("install-watcher").start(watcher::run);
    }

    @AfterEach
    void stop() throws Exception {
        if (watcher != null) {
            assertThat(watcher.stop(Duration.ofSeconds(5))).isTrue();
        }
    }

    @Test
    void repairsTheConfigWhenItsCniWritesItAgain() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path calico = node.config("10-calico.conflist");
        start(node, RECHECK);
        within(Duration.ofSeconds(5), () -> oursLast(calico));

        for (int i = 0; i < 3; i++) {
            FakeNode.rewriteAsPrimary(calico, FakeNode.sample("10-calico.conflist"));
            within(Duration.ofSeconds(3), () -> oursLast(calico));
        }
        CniInstallerTest.assertOursLastAndTheRestAsIn(calico, FakeNode.sample("10-calico.conflist"));
    }

    @Test
    void aReaderNeverSeesAMissingFileOrInvalidJsonWhileTheWatcherRepairs() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path calico = node.config("10-calico.conflist");
        start(node, RECHECK);
        within(Duration.ofSeconds(5), () -> oursLast(calico));

        AtomicReference<Throwable> seen = new AtomicReference<>();
        AtomicInteger reads = new AtomicInteger();
        long end = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        Thread reader = Thread.ofPlatform().start(() -> {
            while (System.nanoTime() < end && seen.get() == null) {
                try {
                    Json.parseObject(Files.readAllBytes(ConfigFiles.chosen(node.conf).orElseThrow()));
                    reads.incrementAndGet();
                } catch (Throwable t) {
                    seen.set(t);
                }
            }
        });
        int rewrites = 0;
        while (System.nanoTime() < end) {
            FakeNode.rewriteAsPrimary(calico, FakeNode.sample("10-calico.conflist"));
            rewrites++;
            Thread.sleep(20);
        }
        reader.join();
        assertThat(seen.get()).isNull();
        assertThat(reads.get()).isGreaterThan(100);
        assertThat(log.stream().filter(l -> l.startsWith("inserted")).count()).as("repairs").isGreaterThan(rewrites / 4);
        within(Duration.ofSeconds(3), () -> oursLast(calico));
    }

    @Test
    void waitsForTheFirstConfigAndFollowsAHigherPriorityOne() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Files.delete(node.conf); // a DaemonSet's installer can start before the primary CNI wrote anything
        start(node, RECHECK);
        within(Duration.ofSeconds(5), () -> log.stream().anyMatch(l -> l.endsWith("(the directory does not exist); waiting for one")));

        Files.createDirectories(node.conf);
        Path flannel = node.config("10-flannel.conflist");
        within(Duration.ofSeconds(5), () -> oursLast(flannel));

        Path cilium = node.config("05-cilium.conflist");
        within(Duration.ofSeconds(5), () -> oursLast(cilium));
        within(Duration.ofSeconds(5), () -> sameBytes(flannel, FakeNode.sample("10-flannel.conflist")));
    }

    @Test
    void putsBackDeletedPluginFilesOnItsPeriodicLookEvenWithoutAnEvent() throws Exception {
        FakeNode node = new FakeNode(tmp);
        node.config("10-calico.conflist");
        start(node, Duration.ofMillis(300));
        Path launcher = node.bin.resolve("nodemesh-cni");
        within(Duration.ofSeconds(5), () -> Files.isExecutable(launcher));

        Files.delete(launcher);
        within(Duration.ofSeconds(3), () -> Files.isExecutable(launcher));
        PluginFiles.deleteTree(node.bin.resolve("nodemesh-cni.d"));
        within(Duration.ofSeconds(3), () -> Files.isRegularFile(node.bin.resolve("nodemesh-cni.d/nodemesh-cni.jar")));
        assertThat(log).anySatisfy(l -> assertThat(l).startsWith("repaired the plugin"));
    }

    @Test
    void stoppingLeavesThePluginAndTheConfigInPlace() throws Exception {
        FakeNode node = new FakeNode(tmp);
        Path calico = node.config("10-calico.conflist");
        start(node, RECHECK);
        within(Duration.ofSeconds(5), () -> oursLast(calico));
        byte[] installed = Files.readAllBytes(calico);

        assertThat(watcher.stop(Duration.ofSeconds(5))).isTrue();
        thread.join(5000);
        assertThat(thread.isAlive()).isFalse();
        assertThat(calico).hasBinaryContent(installed);
        assertThat(node.bin.resolve("nodemesh-cni")).isExecutable();
        assertThat(node.bin.resolve("nodemesh-cni.d/nodemesh-cni.jar")).exists();
        watcher = null;
    }

    static boolean oursLast(Path file) {
        try {
            List<?> plugins = (List<?>) Json.parseObject(Files.readAllBytes(file)).get("plugins");
            return plugins.getLast().equals(PluginEntry.defaults().toJson());
        } catch (NoSuchFileException e) {
            return false;
        } catch (Exception e) {
            throw new AssertionError(file + ": " + e.getMessage(), e);
        }
    }

    private static boolean sameBytes(Path file, byte[] bytes) {
        try {
            return java.util.Arrays.equals(Files.readAllBytes(file), bytes);
        } catch (Exception e) {
            return false;
        }
    }

    private void within(Duration limit, BooleanSupplier condition) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within " + limit + "; the watcher said: " + log);
            }
            Thread.sleep(20);
        }
    }

}
