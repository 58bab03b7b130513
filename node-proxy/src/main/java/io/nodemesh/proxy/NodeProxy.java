package io.nodemesh.proxy;

import io.netty.channel.EventLoopGroup;
import io.nodemesh.proxy.admin.AdminServer;
import io.nodemesh.proxy.admin.ProxyView;
import io.nodemesh.proxy.capture.CaptureReconciler;
import io.nodemesh.proxy.capture.NodeStats;
import io.nodemesh.proxy.capture.PodCapture;
import io.nodemesh.proxy.capture.PodRules;
import io.nodemesh.proxy.capture.RedirectRules;
import io.nodemesh.proxy.capture.Transport;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.ConfigFileWatcher;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.MeshConfig;
import io.nodemesh.proxy.config.PodSpec;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.config.TransportKind;
import io.nodemesh.proxy.inbound.InboundInitializer;
import io.nodemesh.proxy.outbound.OutboundInitializer;
import io.nodemesh.proxy.telemetry.ConnectionSink;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node proxy, wired: reads the standalone config, opens capture listeners inside every captured
 * pod's network namespace, installs their redirect rules, relays their connections, serves the
 * admin API, follows config changes and drains on {@link #close()}. The one composition root of
 * the {@code proxy} process.
 *
 * <pre>{@code
 * try (NodeProxy proxy = NodeProxy.builder().configFile(path).sink(reporter).build()) {
 *     proxy.start();          // ConfigException if the file is unusable
 *     ...                     // until SIGTERM
 * }                           // close(): stop accepting, drain, stop
 * }</pre>
 */
public final class NodeProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeProxy.class);

    private final Path configFile;
    private final TransportKind transportOverride;
    private final Integer workersOverride;
    private final InetSocketAddress adminOverride;
    private final ConnectionSink sink;
    private final Duration pollInterval;
    private final Function<RulesBackend, PodRules> rules;
    private final boolean removeRulesOnStop;

    private final AtomicReference<MeshConfig> config = new AtomicReference<>();
    private final NodeStats nodeStats = new NodeStats();
    private volatile String lastConfigError;
    private volatile long loadedAtMillis;
    private ConfigFileWatcher watcher;
    private Transport transport;
    private EventLoopGroup group;
    private ScheduledExecutorService control;
    private CaptureReconciler reconciler;
    private AdminServer admin;
    private boolean started;
    private boolean closed;

    private NodeProxy(Builder b) {
        this.configFile = Objects.requireNonNull(b.configFile, "configFile");
        this.transportOverride = b.transport;
        this.workersOverride = b.workers;
        this.adminOverride = b.admin;
        this.sink = b.sink;
        this.pollInterval = b.pollInterval;
        this.rules = b.rules;
        this.removeRulesOnStop = b.removeRulesOnStop;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Loads the config, starts the event loops and the admin server and captures the configured pods.
     * A pod that cannot be captured fails alone (see {@code /stats}); the proxy still starts.
     *
     * @throws ConfigException if the config file is missing or invalid (message: file:line:column: field: problem)
     * @throws IOException if the admin server cannot be bound
     */
    public synchronized void start() throws ConfigException, IOException {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        watcher = new ConfigFileWatcher(configFile);
        MeshConfig initial = withOverrides(watcher.load());
        ProxySettings settings = initial.proxy();
        transport = Transport.select(settings.transport(), log::warn);
        group = transport.newEventLoopGroup(settings.workers(), "nodemesh-proxy");
        control = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform()
                .name("nodemesh-control").daemon(true).unstarted(r));
        PodCapture.Shared shared = new PodCapture.Shared(transport, group, () -> config.get().proxy(), sink,
                nodeStats, OutboundInitializer::new, InboundInitializer::new);
        reconciler = new CaptureReconciler((spec, s) -> new PodCapture(spec, s, shared), rules, control);
        try {
            admin = AdminServer.start(settings.admin(), new View());
        } catch (IOException e) {
            shutdownThreads();
            reconciler = null;
            throw e;
        }
        config.set(new MeshConfig(settings, List.of()));
        onControlThread(() -> apply(initial));
        loadedAtMillis = System.currentTimeMillis();
        log.info("proxy started: transport {}, {} worker(s), admin on {}, config {} ({} pod(s))", transport,
                settings.workers(), HostPort.format(admin.address()), configFile, initial.pods().size());
        control.scheduleWithFixedDelay(this::pollQuietly, pollInterval.toMillis(), pollInterval.toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /**
     * Re-reads the config file now (it is also polled) and applies it if its content changed.
     *
     * @return null if the content is unchanged, else what became of the change
     */
    public ConfigFileWatcher.Change reload() {
        return onControlThread(this::poll);
    }

    private void pollQuietly() {
        try {
            poll();
        } catch (RuntimeException e) {
            log.error("config reload failed", e);
        }
    }

    private ConfigFileWatcher.Change poll() {
        ConfigFileWatcher.Change change = watcher.poll();
        if (change instanceof ConfigFileWatcher.Rejected rejected) {
            lastConfigError = rejected.message();
            log.error("config not reloaded, keeping the last good one: {}", rejected.message());
        } else if (change instanceof ConfigFileWatcher.Loaded loaded) {
            lastConfigError = null;
            loadedAtMillis = System.currentTimeMillis();
            log.info("config {} changed: {} pod(s)", configFile, loaded.config().pods().size());
            apply(withOverrides(loaded.config()));
        }
        return change;
    }

    /** Swaps in {@code next} and reconciles the pods; on the control thread only. */
    private void apply(MeshConfig next) {
        MeshConfig previous = config.get();
        ProxySettings running = previous.proxy();
        ProxySettings wanted = next.proxy();
        // These are fixed once the event loops and the admin server run.
        if (wanted.transport() != running.transport() || wanted.workers() != running.workers()
                || !wanted.admin().equals(running.admin())) {
            log.warn("proxy.transport, proxy.workers and proxy.admin changes take effect after a restart");
            next = next.withProxy(new ProxySettings(wanted.mark(), wanted.outboundPort(), wanted.inboundPort(),
                    running.transport(), running.workers(), wanted.connectTimeout(), wanted.idleTimeout(),
                    wanted.drainTimeout(), wanted.rules(), running.admin()));
        }
        config.set(next);
        reconciler.reconcile(previous, next);
    }

    private MeshConfig withOverrides(MeshConfig loaded) {
        ProxySettings s = loaded.proxy();
        if (transportOverride != null) {
            s = s.withTransport(transportOverride);
        }
        if (workersOverride != null) {
            s = s.withWorkers(workersOverride);
        }
        if (adminOverride != null) {
            s = s.withAdmin(adminOverride);
        }
        return s == loaded.proxy() ? loaded : loaded.withProxy(s);
    }

    /** The config in force. */
    public MeshConfig config() {
        return config.get();
    }

    /** The pod (captured or not) that has address {@code ip} in the config in force; for telemetry's workload lookup. */
    public Optional<PodSpec> podByIp(InetAddress ip) {
        MeshConfig c = config.get();
        return c == null ? Optional.empty() : c.podByIp(ip);
    }

    /** Captured, failed and draining pods, with their counters. */
    public List<PodCapture> pods() {
        return reconciler == null ? List.of() : reconciler.pods();
    }

    /** The capture of the pod {@code namespace/name}, if it is captured (or failed, or draining). */
    public Optional<PodCapture> pod(String key) {
        return pods().stream().filter(p -> p.spec().key().equals(key)).findFirst();
    }

    /** Node-wide totals. */
    public NodeStats nodeStats() {
        return nodeStats;
    }

    /** The transport in use (after any fallback). */
    public Transport transport() {
        return transport;
    }

    /** Where the admin server listens (the real port when 0 was configured). */
    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    /** Why the latest config change was rejected, or null. */
    public String lastConfigError() {
        return lastConfigError;
    }

    /**
     * Stops accepting on every pod, lets open connections finish until the drain timeout, closes
     * what is left, then stops. Redirect rules stay in place (traffic fails closed while the proxy
     * is away) unless the builder asked to remove them; then they go after the drain.
     */
    @Override
    public synchronized void close() {
        if (reconciler == null || closed) {
            return; // never started, or start() failed before anything ran
        }
        closed = true;
        ProxySettings settings = config.get().proxy();
        try {
            var drained = onControlThread(() -> reconciler.releaseAll(settings, removeRulesOnStop));
            drained.get(settings.drainTimeout().toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            log.warn("drain did not finish cleanly: {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        admin.close();
        shutdownThreads();
        log.info("proxy stopped");
    }

    private void shutdownThreads() {
        control.shutdownNow();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private <T> T onControlThread(java.util.concurrent.Callable<T> body) {
        try {
            return control.submit(body).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    private void onControlThread(Runnable body) {
        onControlThread(() -> {
            body.run();
            return null;
        });
    }

    /** The admin server's read-only window on this proxy. */
    private final class View implements ProxyView {
        @Override
        public List<PodCapture> pods() {
            return NodeProxy.this.pods();
        }

        @Override
        public NodeStats nodeStats() {
            return nodeStats;
        }

        @Override
        public Transport transport() {
            return transport;
        }

        @Override
        public ConfigStatus config() {
            return new ConfigStatus(configFile.toString(), loadedAtMillis, lastConfigError);
        }
    }

    /** Settings for a {@link NodeProxy}; only the config file is required. */
    public static final class Builder {
        private Path configFile;
        private TransportKind transport;
        private Integer workers;
        private InetSocketAddress admin;
        private ConnectionSink sink = ConnectionSink.NONE;
        private Duration pollInterval = Duration.ofSeconds(1);
        private Function<RulesBackend, PodRules> rules = RedirectRules::forBackend;
        private boolean removeRulesOnStop;

        private Builder() {
        }

        /** The standalone YAML file (see {@link io.nodemesh.proxy.config.StandaloneConfig}). */
        public Builder configFile(Path file) {
            this.configFile = file;
            return this;
        }

        /** Overrides {@code proxy.transport} of the file. */
        public Builder transport(TransportKind kind) {
            this.transport = kind;
            return this;
        }

        /** Overrides {@code proxy.workers} of the file. */
        public Builder workers(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("workers must be at least 1, not " + threads);
            }
            this.workers = threads;
            return this;
        }

        /** Overrides {@code proxy.admin} of the file. */
        public Builder admin(InetSocketAddress address) {
            this.admin = address;
            return this;
        }

        /** Receives one record per finished connection (default: none). */
        public Builder sink(ConnectionSink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            return this;
        }

        /** How often the config file is checked for changes (default 1 s). */
        public Builder pollInterval(Duration interval) {
            this.pollInterval = interval;
            return this;
        }

        /** Who installs redirect rules for each {@code proxy.rules} backend (default: the redirect-rules module). */
        public Builder rules(Function<RulesBackend, PodRules> rules) {
            this.rules = Objects.requireNonNull(rules, "rules");
            return this;
        }

        /** Whether {@link #close()} also removes the pods' redirect rules (default false: fail closed). */
        public Builder removeRulesOnStop(boolean remove) {
            this.removeRulesOnStop = remove;
            return this;
        }

        public NodeProxy build() {
            return new NodeProxy(this);
        }
    }
}
