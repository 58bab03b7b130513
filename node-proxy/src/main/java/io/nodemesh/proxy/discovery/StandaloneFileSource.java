package io.nodemesh.proxy.discovery;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The standalone source: the mesh read from a YAML file ({@link StandaloneConfig}) and followed by polling it (see
 * {@link ConfigFileWatcher} for why polling). A file that no longer parses is rejected with
 * {@code FILE:LINE:COLUMN: field: problem} and the last good snapshot stays in force. The file's
 * {@code proxy.transport}, {@code proxy.workers}, {@code proxy.admin}, {@code proxy.adminSocket} and
 * {@code proxy.readiness} are read at start only.
 */
public final class StandaloneFileSource implements WorkloadSource {

    private static final Logger log = LoggerFactory.getLogger(StandaloneFileSource.class);

    private final ConfigFileWatcher watcher;
    private final Duration pollInterval;
    private BootSettings boot;
    private Consumer<MeshSnapshot> apply;
    private ScheduledFuture<?> polling;
    private volatile long loadedAtMillis;
    private volatile String lastError;

    /**
     * @param file the standalone YAML file
     * @param pollInterval how often it is checked for changes
     */
    public StandaloneFileSource(Path file, Duration pollInterval) {
        this.watcher = new ConfigFileWatcher(file);
        this.pollInterval = pollInterval;
    }

    @Override
    public String describe() {
        return watcher.file().toString();
    }

    @Override
    public MeshSnapshot start() throws ConfigException {
        StandaloneConfig.Document document = watcher.load();
        boot = document.boot();
        loadedAtMillis = System.currentTimeMillis();
        return document.snapshot();
    }

    @Override
    public BootSettings boot(BootSettings defaults) {
        return boot == null ? defaults : boot;
    }

    @Override
    public void follow(ScheduledExecutorService control, Consumer<MeshSnapshot> apply) {
        this.apply = apply;
        long millis = pollInterval.toMillis();
        polling = control.scheduleWithFixedDelay(this::pollQuietly, millis, millis, TimeUnit.MILLISECONDS);
    }

    @Override
    public boolean refresh() {
        ConfigFileWatcher.Change change = watcher.poll();
        if (change instanceof ConfigFileWatcher.Rejected rejected) {
            lastError = rejected.message();
            log.error("config not reloaded, keeping the last good one: {}", rejected.message());
        } else if (change instanceof ConfigFileWatcher.Loaded loaded) {
            lastError = null;
            loadedAtMillis = System.currentTimeMillis();
            log.info("config {} changed: {} pod(s)", describe(), loaded.document().pods().size());
            if (boot != null && !loaded.document().boot().equals(boot)) {
                log.warn("proxy.transport, proxy.workers, proxy.admin, proxy.adminSocket and proxy.readiness changes take "
                        + "effect after a restart");
            }
            if (apply != null) {
                apply.accept(loaded.document().snapshot());
            }
        }
        return change != null;
    }

    private void pollQuietly() {
        try {
            refresh();
        } catch (RuntimeException e) {
            log.error("config reload failed", e);
        }
    }

    @Override
    public SourceStatus status() {
        return new SourceStatus(describe(), loadedAtMillis, lastError);
    }

    @Override
    public void close() {
        ScheduledFuture<?> p = polling;
        if (p != null) {
            p.cancel(false);
        }
    }
}
