package io.nodemesh.cni.install;

import static java.nio.file.StandardWatchEventKinds.ENTRY_CREATE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_DELETE;
import static java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.FileSystems;
import java.nio.file.Path;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * {@code install-cni --watch}: keeps the plugin installed while it runs. It watches the CNI config dir and bin dir and
 * repairs what another hand undid: our entry gone because the primary CNI wrote its config again (Cilium at boot,
 * istio/istio#60882), a new file that comes first, the plugin's files deleted. Watch events can be missed (an overflow,
 * a directory made after the watch began), so it also looks every {@code recheck}. A conf dir without a config yet is
 * waited for. {@link #close} stops it and leaves everything in place: a DaemonSet restart or upgrade must never leave
 * pods uncaptured, and a pod that starts meanwhile finds the plugin, which fails closed without its proxy.
 */
public final class InstallWatcher implements AutoCloseable {

    /** How often a missing directory is looked for, when that is sooner than the re-check. */
    private static final Duration MISSING_DIR_POLL = Duration.ofSeconds(1);
    /** Events that come together (a primary CNI's temp file and rename) are handled once. */
    private static final Duration SETTLE = Duration.ofMillis(50);

    private final CniInstaller installer;
    private final Duration recheck;
    private final Consumer<String> log;
    private final WatchService watch;
    private final Map<Path, WatchKey> keys = new HashMap<>();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile boolean closed;
    private String lastProblem;

    /**
     * @param installer what to keep installed
     * @param recheck   how often to look without an event
     * @param log       where each change and each new problem is told, once
     */
    public InstallWatcher(CniInstaller installer, Duration recheck, Consumer<String> log) throws IOException {
        this.installer = Objects.requireNonNull(installer);
        if (recheck.isNegative() || recheck.isZero()) {
            throw new IllegalArgumentException("re-check interval must be positive: " + recheck);
        }
        this.recheck = recheck;
        this.log = log;
        this.watch = FileSystems.getDefault().newWatchService();
    }

    /** Watches and repairs until {@link #close}; returns then, having removed nothing. */
    public void run() {
        try {
            boolean full = true;
            while (!closed) {
                boolean allWatched = register(installer.settings().confDir()) & register(installer.settings().binDir());
                reconcile(full);
                full = false;
                Duration wait = allWatched ? recheck : min(recheck, MISSING_DIR_POLL);
                WatchKey key = watch.poll(wait.toMillis(), TimeUnit.MILLISECONDS);
                if (key != null) {
                    Thread.sleep(SETTLE.toMillis());
                    for (; key != null; key = watch.poll()) {
                        key.pollEvents();
                        if (!key.reset()) {
                            keys.values().remove(key); // its directory is gone: registered again when it is back
                        }
                    }
                }
            }
        } catch (ClosedWatchServiceException | InterruptedException e) {
            // closed: stop, leaving everything in place
        } finally {
            stopped.countDown();
        }
    }

    /** Stops {@link #run} (waiting up to {@code timeout} for a repair under way to finish); removes nothing. */
    public boolean stop(Duration timeout) throws InterruptedException {
        close();
        return stopped.await(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Override
    public void close() {
        closed = true;
        try {
            watch.close();
        } catch (IOException e) {
            // closing a watch service: nothing to do about it
        }
    }

    private void reconcile(boolean full) {
        try {
            List<String> changes = full ? installer.install() : installer.repair();
            if (lastProblem != null) {
                log.accept("in place again");
                lastProblem = null;
            }
            changes.forEach(log);
        } catch (InstallException.NoConfig e) {
            problem(e.getMessage() + "; waiting for one");
        } catch (InstallException e) {
            problem(e.getMessage() + "; will try again");
        } catch (RuntimeException e) {
            problem("unexpected " + e + "; will try again");
        }
    }

    private void problem(String message) {
        if (!message.equals(lastProblem)) {
            log.accept(message);
            lastProblem = message;
        }
    }

    private boolean register(Path dir) {
        WatchKey key = keys.get(dir);
        if (key != null && key.isValid()) {
            return true;
        }
        try {
            keys.put(dir, dir.register(watch, ENTRY_CREATE, ENTRY_DELETE, ENTRY_MODIFY));
            return true;
        } catch (IOException e) {
            keys.remove(dir);
            return false; // not there yet: looked for again soon
        }
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
