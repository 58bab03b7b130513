package io.nodemesh.proxy;

import io.netty.channel.EventLoopGroup;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.proxy.admin.AdminServer;
import io.nodemesh.proxy.admin.ProxyView;
import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.IdentitySettings;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.SourceStatus;
import io.nodemesh.proxy.discovery.StandaloneFileSource;
import io.nodemesh.proxy.discovery.WorkloadSource;
import io.nodemesh.proxy.handoff.ControlSocket;
import io.nodemesh.proxy.handoff.EnrolmentFile;
import io.nodemesh.proxy.handoff.PodHandoff;
import io.nodemesh.proxy.identity.IdentityException;
import io.nodemesh.proxy.identity.CertificateStatus;
import io.nodemesh.proxy.identity.IdentityManager;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.inpod.CaptureReconciler;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.readiness.Readiness;
import io.nodemesh.proxy.readiness.ReadinessServer;
import io.nodemesh.proxy.redirect.PodRules;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.proxy.route.EndpointLoad;
import io.nodemesh.proxy.route.RouteDecider;
import io.nodemesh.proxy.stats.NodeStats;
import io.nodemesh.proxy.telemetry.ConnectionSink;
import io.nodemesh.proxy.telemetry.PodWorkloads;
import io.nodemesh.proxy.telemetry.ReportTransport;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.proxy.telemetry.TelemetryReporter;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.proxy.relay.MovedConnection;
import io.nodemesh.proxy.upgrade.HandoverSocket;
import io.nodemesh.proxy.upgrade.InheritedPod;
import io.nodemesh.proxy.upgrade.ListenerKeeper;
import io.nodemesh.proxy.upgrade.Takeover;
import io.nodemesh.rules.CaptureMode;
import io.nodemesh.rules.ConnectCapture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node proxy, wired: the one composition root of the {@code proxy} process. It takes the mesh from a
 * {@link WorkloadSource} (the standalone file today, Kubernetes next), opens capture listeners inside every captured
 * pod's network namespace, installs their redirect rules, relays their connections (the route decision picks each
 * outbound connection's upstream), reports them and the pods' capture states to telemetry, serves the admin API and
 * the readiness probe, follows the source's snapshots and drains on {@link #close()}.
 *
 * <pre>{@code
 * try (NodeProxy proxy = NodeProxy.builder().configFile(path).telemetry(reporterConfig).build()) {
 *     proxy.start();          // ConfigException if the source has no usable view
 *     ...                     // until SIGTERM
 * }                           // close(): stop accepting, drain, stop
 * }</pre>
 */
public final class NodeProxy implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(NodeProxy.class);

    private final WorkloadSource source;
    private final TransportKind transportOverride;
    private final CaptureMode captureOverride;
    private final Integer workersOverride;
    private final InetSocketAddress adminOverride;
    private final Path adminSocketOverride;
    private final InetSocketAddress readinessOverride;
    private final ConnectionSink sinkOverride;
    private final ReporterConfig telemetry;
    private final ReportTransport telemetryTransport;
    private final RouteDecider routesOverride;
    private final Function<RulesBackend, PodRules> rules;
    /**
     * {@code capture: ebpf}'s programs and maps, the pods' rules and listeners sharing it. Its descriptors live as long
     * as the process: the programs stay attached without them (the inbound ones pinned in the bpf filesystem), and a
     * proxy that starts again adopts the maps.
     */
    private final ConnectCapture connectCapture;
    private final boolean removeRulesOnStop;
    private final Path cniSocket;
    private final Path enrolmentPath;
    private final Path handoverPath;
    private final Path keeperPath;

    private final AtomicReference<MeshSnapshot> snapshot = new AtomicReference<>();
    private final NodeStats nodeStats = new NodeStats();
    private final Readiness readiness = new Readiness();
    private TelemetryReporter reporter;
    private RouteDecider routes;
    private IdentityManager identities;
    private volatile BootSettings boot;
    private Transport transport;
    private EventLoopGroup group;
    private ScheduledExecutorService control;
    private CaptureReconciler reconciler;
    private AdminServer admin;
    private ReadinessServer readinessServer;
    private boolean started;
    private boolean closed;
    /** The source's latest snapshot, before the CNI plugin's pods are laid over it (control thread). */
    private MeshSnapshot fromSource;
    private PodHandoff handoff;
    private volatile ControlSocket controlSocket;
    private EnrolmentFile enrolment;
    /** The listener keeper's answer to the takeover {@link #start} asked for at once, until it is used or discarded. */
    private CompletableFuture<Takeover> fromKeeper;
    /** The takeover under way while this proxy starts (the pods of the proxy before it), else null. */
    private volatile Takeover takeover;
    private HandoverSocket handoverSocket;
    /** The holding session with the listener keeper, or null without one (docs/upgrade.md). */
    private volatile ListenerKeeper keeper;
    /** Checks the keeper's session every 5 s, on the control thread; cancelled once the pods go elsewhere. */
    private final AtomicReference<ScheduledFuture<?>> keeping = new AtomicReference<>();
    /** A new proxy is taking over: snapshots are kept, not applied (control thread). */
    private volatile boolean retired;
    /** The pods went to a new proxy: their rules are its now, whatever {@code removeRulesOnStop} says. */
    private volatile boolean handedOver;
    /** Why the latest snapshot the source took was not applied here (its capture cannot be had), or null. */
    private volatile String captureRejection;

    private NodeProxy(Builder b) {
        this.source = b.configFile != null ? new StandaloneFileSource(b.configFile, b.pollInterval) : b.source;
        if (source == null) {
            throw new IllegalStateException("a workload source is required: source(...) or configFile(...)");
        }
        this.transportOverride = b.transport;
        this.captureOverride = b.capture;
        this.workersOverride = b.workers;
        this.adminOverride = b.admin;
        this.adminSocketOverride = b.adminSocket;
        this.readinessOverride = b.readiness;
        this.sinkOverride = b.sink;
        this.telemetry = b.telemetry;
        this.telemetryTransport = b.telemetryTransport;
        this.routesOverride = b.routes;
        this.connectCapture = ConnectCapture.open(b.bpffs);
        this.rules = b.rules != null ? b.rules : backend -> RedirectRules.forBackend(backend, connectCapture);
        this.removeRulesOnStop = b.removeRulesOnStop;
        this.cniSocket = b.cniSocket;
        this.enrolmentPath = b.enrolmentFile;
        this.handoverPath = b.handoverSocket;
        this.keeperPath = b.keeperSocket;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Takes the source's first view, starts telemetry, the event loops, the admin server and the readiness probe, and
     * captures the pods; ready from then on. A pod that cannot be captured fails alone (see {@code /workloads}); the
     * proxy still starts.
     *
     * @throws ConfigException if the source has no usable view (for the file: file:line:column: field: problem), its
     *     capture cannot be had with its rules or on the transport ({@code proxy.capture: problem}), or the mesh CA it
     *     names cannot be read (file: problem)
     * @throws IOException if the admin server or the readiness probe cannot be bound
     */
    public synchronized void start() throws ConfigException, IOException {
        if (started) {
            throw new IllegalStateException("already started");
        }
        started = true;
        // While the source reads its pods (a file, or the API's lists), the default rule backend runs its code once,
        // so that the first pods' captures do not pay its first run (RESULTS.md, a restart in Kubernetes mode).
        Thread.ofPlatform().name("nodemesh-rules-prepare").daemon(true)
                .start(() -> rules.apply(ProxySettings.defaults().rules()).prepare());
        if (keeperPath != null) {
            // Meanwhile too, the pods' listeners are asked of the listener keeper (0.2-0.3 s for 500 pods in a JVM
            // that has just started); used only if no proxy answers at the handover socket (takeOverFromKeeper()).
            CompletableFuture<Takeover> asked = new CompletableFuture<>();
            Thread.ofPlatform().name("nodemesh-keeper-takeover").daemon(true).start(() -> {
                try {
                    asked.complete(Takeover.stream(keeperPath, Duration.ofSeconds(30)));
                } catch (Throwable t) {
                    asked.completeExceptionally(t);
                }
            });
            fromKeeper = asked;
        }
        try {
            startWithKeeperAsked();
        } catch (ConfigException | IOException | RuntimeException e) {
            discardKeeperTakeover();
            throw e;
        }
    }

    /** {@link #start}, once the keeper has been asked for the pods' listeners (if there is one). */
    private void startWithKeeperAsked() throws ConfigException, IOException {
        MeshSnapshot initial = withCaptureOverride(source.start());
        long viewed = System.nanoTime();
        boot = withOverrides(source.boot(BootSettings.defaults()));
        transport = Transport.select(boot.transport(), log::warn);
        String unfit = captureProblem(initial.proxy());
        if (unfit != null) {
            source.close();
            throw new ConfigException(unfit);
        }
        IdentitySettings identity = boot.identity();
        routes = routesOverride != null ? routesOverride : new RouteDecider(identity.trustDomain(), new EndpointLoad());
        if (identity.caDir() != null) {
            try {
                identities = IdentityManager.builder(MeshCa.load(identity.caDir(), identity.trustDomain()))
                        .lifetime(identity.certificateLifetime()).build();
            } catch (IdentityException e) {
                throw new ConfigException("proxy.identity.caDir: " + e.getMessage(), e);
            }
        }
        ConnectionSink sink = sinkOverride;
        if (sink == null && telemetry != null) {
            // Principals in the trust domain the certificates are issued in.
            // The tunnel's counters too, where there is a tunnel (a mesh CA).
            reporter = TelemetryReporter.start(telemetry.withTrustDomain(identity.trustDomain()),
                    new PodWorkloads(this::snapshot), identities == null ? null : new View()::tunnelTotals,
                    telemetryTransport);
            sink = reporter;
        }
        group = transport.newEventLoopGroup(boot.workers(), "nodemesh-proxy");
        long loopsUp = System.nanoTime();
        control = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform()
                .name("nodemesh-control").daemon(true).unstarted(r));
        ConnectionSink reports = sink == null ? ConnectionSink.NONE : sink;
        PodCapture.Shared shared = new PodCapture.Shared(transport, group, snapshot::get, routes, reports, nodeStats,
                identities, connectCapture, key -> {
                    Takeover t = takeover;
                    if (t == null) {
                        return null;
                    }
                    return t.claim(key); // from the capture threads, each waiting for its pod while they come
                });
        if (cniSocket != null) {
            handoff = new PodHandoff(control, new HandoffHost(), Duration.ofSeconds(20), Duration.ofSeconds(10));
        }
        enrolment = enrolmentPath == null ? null : new EnrolmentFile(enrolmentPath);
        reconciler = new CaptureReconciler((spec, s) -> new PodCapture(spec, s, shared), rules, control,
                reports::captureStates, () -> {
                    if (handoff != null) {
                        // A capture in place, failed, or closed and drained (its namespace no longer in use) may
                        // answer the CNI plugin.
                        handoff.settle();
                    }
                }, new KeeperHost());
        try {
            if (handoverPath != null) {
                // Before any listener opens, the admin socket's too: the pods' listeners, and the node's admin
                // socket, may be the running proxy's; it lets them go.
                takeOver();
            }
            if (takeover == null && keeperPath != null && transport.handsOver()) {
                takeOverFromKeeper();
            }
            discardKeeperTakeover(); // unless it is the one taken: a live proxy handed over, or the transport cannot
            if (takeover != null && handoff != null) {
                inheritHandoffs(takeover);
            }
            if (keeperPath != null && transport.handsOver()) {
                // Before the first snapshot: the pods are kept as they are captured.
                keeper = new ListenerKeeper(keeperPath);
                onControlThread(() -> keeper.ensure(List::of, false));
            } else if (keeperPath != null) {
                log.warn("the {} transport cannot give its listeners to the listener keeper at {} (epoll can): a "
                        + "restart of this proxy refuses the pods' new connections until it listens again",
                        transport, keeperPath);
            }
            admin = AdminServer.start(boot.admin(), boot.adminSocket(), new View());
            try {
                readinessServer = ReadinessServer.start(boot.readiness(), readiness);
            } catch (IOException e) {
                admin.close();
                throw e;
            }
        } catch (IOException e) {
            if (takeover != null) {
                takeover.close(); // the old proxy resumes
                takeover = null;
            }
            if (keeper != null) {
                keeper.close(); // it holds on to what it held
                keeper = null;
            }
            shutdownThreads();
            reconciler = null;
            if (identities != null) {
                identities.close();
            }
            if (reporter != null) {
                reporter.close(); // nothing was captured: nothing to report
                reporter = null;
            }
            throw e;
        }
        long serving = System.nanoTime();
        snapshot.set(new MeshSnapshot(initial.proxy(), List.of()));
        onControlThread(() -> apply(initial));
        long captured = System.nanoTime();
        if (takeover != null) {
            finishTakeover();
        }
        if (keeper != null) {
            // The keeper closes what it held that no capture here kept (pods gone while no proxy ran); from now
            // on the session is checked, and opened again with every pod kept anew, every few seconds.
            onControlThread(keeper::synced);
            startKeeping();
        }
        if (cniSocket != null && controlSocket == null) {
            try {
                controlSocket = ControlSocket.start(cniSocket, handoff, Duration.ofSeconds(25));
            } catch (IOException e) {
                close();
                throw new IOException("cannot open the CNI control socket " + cniSocket + ": " + e.getMessage(), e);
            }
        }
        if (handoverPath != null && transport.handsOver()) {
            try {
                handoverSocket = HandoverSocket.start(handoverPath, new HandoverHost());
            } catch (IOException e) {
                log.warn("no handover socket at {}: an upgrade of this proxy will drain its connections: {}",
                        handoverPath, e.getMessage());
            }
        } else if (handoverPath != null) {
            log.warn("the {} transport cannot hand sockets over: an upgrade of this proxy drains its connections "
                    + "(epoll hands them over)", transport);
        }
        readiness.ready();
        log.info("proxy started: transport {}, {} worker(s), admin on {}, admin socket {}, readiness on {}, config {} "
                + "({} pod(s)); {} ms after the source's first view: identities, telemetry and event loops {} ms, "
                + "admin and readiness {} ms, pods captured {} ms", transport, boot.workers(),
                HostPort.format(admin.address()), admin.socket(), HostPort.format(readinessServer.address()),
                source.describe(), initial.pods().size(), millis(System.nanoTime() - viewed), millis(loopsUp - viewed),
                millis(serving - loopsUp), millis(captured - serving));
        source.follow(control, this::apply);
    }

    /**
     * Asks the proxy at the handover socket, if one listens there, for its pods' namespaces and listening sockets;
     * the captures take them when the first snapshot is applied. A live socket that cannot be taken over is an error:
     * two proxies listening on the same pods would fight over the rules.
     */
    private void takeOver() throws IOException {
        try {
            if (!transport.handsOver()) {
                if (Takeover.someoneListens(handoverPath)) {
                    throw new IOException("the " + transport + " transport cannot take sockets over (only epoll can)"
                            + ": stop that proxy first");
                }
                return;
            }
            takeover = Takeover.begin(handoverPath, Duration.ofSeconds(30));
        } catch (IOException e) {
            throw new IOException("cannot take over from the nodemesh proxy at " + handoverPath + ": "
                    + e.getMessage(), e);
        }
    }

    private static final long KEEPER_RETRY_SECONDS = 5;

    private void startKeeping() {
        ScheduledFuture<?> before = keeping.getAndSet(control.scheduleWithFixedDelay(
                () -> keeper.ensure(this::keptPods, true), KEEPER_RETRY_SECONDS, KEEPER_RETRY_SECONDS,
                TimeUnit.SECONDS));
        if (before != null) {
            before.cancel(false);
        }
    }

    /**
     * No more checks of the keeper's session: the pods are leaving this proxy (it stops, or hands them over), and a
     * session opened again now would keep none of them, and so have the keeper close them all. {@code letGo}: end the
     * session too, so that the proxy taking over can hold at once.
     */
    private void stopKeeping(boolean letGo) {
        ScheduledFuture<?> task = keeping.getAndSet(null);
        if (task != null) {
            task.cancel(false); // one under way finishes first: the control thread runs what follows after it
        }
        ListenerKeeper k = keeper;
        if (letGo && k != null) {
            onControlThread(k::close);
        }
    }

    /**
     * Takes the pods' listeners over from the listener keeper when no proxy answered at the handover socket (the
     * proxy before this one is gone: a crash, a container restart). A keeper that refuses (a live proxy holds these
     * listeners, without a handover socket) stops the start: two proxies would fight over the pods.
     */
    private void takeOverFromKeeper() throws IOException {
        CompletableFuture<Takeover> asked = fromKeeper;
        fromKeeper = null;
        try {
            takeover = asked.join();
        } catch (java.util.concurrent.CompletionException e) {
            Throwable cause = e.getCause();
            String why = cause.getMessage() == null ? cause.toString() : cause.getMessage();
            if (Takeover.refusedByPeer(cause)) {
                throw new IOException("cannot take the listeners over from the listener keeper at " + keeperPath
                        + ": " + why, cause);
            }
            // What the keeper holds cannot be taken here (another version of the proxy kept it, say): it lets go of
            // everything, and the pods are captured anew, as without a keeper. Not a reason to stay down.
            log.error("the listener keeper at {} holds what this proxy cannot take over ({}): it is told to let go of "
                    + "every pod's listeners, and the pods are captured anew", keeperPath, why);
            ListenerKeeper letGo = new ListenerKeeper(keeperPath);
            letGo.ensure(List::of, true); // hold, keep nothing, synced: it closes everything it held
            letGo.close();
        }
    }

    /**
     * Ends the session with the keeper that {@link #start} opened, if it was not taken: the keeper holds on to
     * everything (nothing was accepted here), and what it sent is closed. A keeper that refused (a live proxy holds
     * the listeners: the one this proxy took over from) is no error then.
     */
    private void discardKeeperTakeover() {
        CompletableFuture<Takeover> asked = fromKeeper;
        fromKeeper = null;
        if (asked != null) {
            asked.whenComplete((t, e) -> {
                if (t != null) {
                    t.close();
                }
            });
        }
    }

    /**
     * The pods captured and listening now, as the keeper and the handover socket give them to the next proxy
     * (control thread).
     */
    private List<ListenerKeeper.Kept> keptPods() {
        List<ListenerKeeper.Kept> kept = new ArrayList<>();
        for (PodCapture pod : reconciler.pods()) {
            ListenerKeeper.Kept k = keptPod(pod);
            if (k != null) { // listening: not draining, not failed
                kept.add(k);
            }
        }
        return kept;
    }

    private ListenerKeeper.Kept keptPod(PodCapture pod) {
        HandoverSocket.Listeners l = pod.handoverListeners();
        if (l == null) {
            return null;
        }
        String key = pod.spec().key();
        // with the plugin's ADD, for a pod the plugin handed over: the next proxy keeps its record
        return new ListenerKeeper.Kept(key, handoff == null ? l : l.withCni(handoff.handed(key)));
    }

    /** What the captures tell the listener keeper; on the control thread. */
    private final class KeeperHost implements CaptureReconciler.Keeper {
        @Override
        public void kept(PodCapture pod) {
            ListenerKeeper k = keeper;
            ListenerKeeper.Kept kept = k == null ? null : keptPod(pod);
            if (kept != null) {
                k.keep(kept);
            }
        }

        @Override
        public void forget(PodCapture pod) {
            ListenerKeeper k = keeper;
            if (k != null) {
                k.forget(pod.spec().key());
            }
        }
    }

    /** The holding session with the listener keeper, when this proxy has one (docs/upgrade.md). */
    public Optional<ListenerKeeper> keeper() {
        return Optional.ofNullable(keeper);
    }

    /**
     * The old proxy's records of the pods the CNI plugin handed it: a pod whose namespace only the plugin gave (a
     * standalone {@code netns: cni} pod) is captured here as it was there, instead of waiting for an ADD that the
     * plugin will not make again. Before the first snapshot is applied.
     */
    private void inheritHandoffs(Takeover t) {
        for (InheritedPod pod : t.pods().values()) {
            if (pod.cni() == null) {
                continue;
            }
            try {
                int fd = pod.duplicateNamespace();
                if (fd >= 0) {
                    NetworkNamespace ns = NetworkNamespace.adopt(fd, "netns of pod " + pod.key()
                            + " (CNI handoff, handed over)");
                    onControlThread(() -> handoff.inherit(pod.cni(), ns));
                }
            } catch (IOException e) {
                log.error("takeover: pod {}: cannot keep its CNI handoff, it waits for the plugin's next ADD: {}",
                        pod.key(), e.getMessage());
            }
        }
    }

    /**
     * Serves the old proxy's CNI control socket, tells it this one accepts on its pods, resumes the relays it moves,
     * closes what nobody took.
     */
    private void finishTakeover() {
        Takeover t = takeover;
        try {
            adoptControlSocket(t);
            try {
                t.accepting();
            } catch (IOException e) {
                log.error("takeover: {}", e.getMessage());
                return;
            }
            t.receiveRelays(this::resume);
        } catch (IOException e) {
            log.error("takeover: the relays did not all come over (those not received are cut): {}", e.getMessage());
        } finally {
            takeover = null;
            t.close();
        }
    }

    /**
     * Accepts on the control socket the old proxy handed over, if it listens where this one's should: the plugin's
     * calls made since the old proxy stopped accepting wait in its backlog and are answered here.
     */
    private void adoptControlSocket(Takeover t) {
        if (cniSocket == null) {
            return;
        }
        int fd = t.takeControlSocket(cniSocket);
        if (fd < 0) {
            return; // none came, or it is elsewhere: start() binds this proxy's own
        }
        try {
            controlSocket = ControlSocket.adopt(fd, cniSocket, handoff, Duration.ofSeconds(25));
        } catch (IOException e) {
            log.error("takeover: cannot serve the CNI control socket {} handed over: {}", cniSocket, e.getMessage());
        }
    }

    private void resume(MovedConnection moved) {
        PodCapture pod = pod(moved.pod()).filter(PodCapture::listening).orElse(null);
        if (pod == null) {
            log.error("takeover: a relay of pod {} ({} -> {}) came for a pod not captured here; it is cut",
                    moved.pod(), moved.source(), moved.destination());
            moved.close();
            return;
        }
        try {
            pod.resume(moved);
        } catch (RuntimeException e) {
            log.error("takeover: a relay of pod {} could not be resumed; it is cut: {}", moved.pod(), e.toString());
        }
    }

    /**
     * Asks the source for a change now (the file source also polls) and applies it.
     *
     * @return whether there was a change, applied or rejected
     */
    public boolean reload() {
        return onControlThread(source::refresh);
    }

    /**
     * Takes the snapshot the source {@code handed} over, with the CNI plugin's pods laid over it; on the control
     * thread. One whose capture cannot be had with its rules or on this transport is not applied: the last good one
     * stays in force.
     */
    private void apply(MeshSnapshot handed) {
        MeshSnapshot next = withCaptureOverride(handed);
        String unfit = captureProblem(next.proxy());
        captureRejection = unfit;
        if (unfit != null) {
            log.error("config not applied, keeping the one in force: {}", unfit);
            return;
        }
        fromSource = next;
        if (retired) {
            return; // a new proxy is taking the pods over; applied again if it fails
        }
        applyMerged(handoff == null ? next : handoff.overlay(next));
        if (enrolment != null) {
            enrolment.update(next);
        }
        if (handoff != null) {
            handoff.settle();
        }
    }

    /** Swaps in {@code next} and reconciles the pods; on the control thread only. */
    private void applyMerged(MeshSnapshot next) {
        MeshSnapshot previous = snapshot.get();
        snapshot.set(next);
        if (identities != null) {
            // Before the pods' listeners open: a connection they accept may at once ask for its identity.
            identities.podsChanged(next);
        }
        reconciler.reconcile(previous, next);
        routes.load().retain(next);
    }

    private static long millis(long nanos) {
        return TimeUnit.NANOSECONDS.toMillis(nanos);
    }

    /** {@code snapshot} under the builder's capture mode, where it overrides the source's. */
    private MeshSnapshot withCaptureOverride(MeshSnapshot snapshot) {
        if (captureOverride == null || snapshot.proxy().capture() == captureOverride) {
            return snapshot;
        }
        return snapshot.withProxy(snapshot.proxy().withCapture(captureOverride));
    }

    /**
     * Why the capture of {@code settings} cannot be had with their rules or on the transport in use, as a config error
     * ({@code proxy.capture: problem}), or null.
     */
    private String captureProblem(ProxySettings settings) {
        String problem = settings.captureRulesProblem();
        if (problem == null) {
            problem = settings.captureTransportProblem(transport.kind());
            if (problem != null && transport.kind() != boot.transport()) {
                problem += " (the " + boot.transport().configName() + " transport asked for is not available here)";
            }
        }
        return problem == null ? null : "proxy.capture: " + problem;
    }

    private BootSettings withOverrides(BootSettings b) {
        if (transportOverride != null) {
            b = b.withTransport(transportOverride);
        }
        if (workersOverride != null) {
            b = b.withWorkers(workersOverride);
        }
        if (adminOverride != null) {
            b = b.withAdmin(adminOverride);
        }
        if (adminSocketOverride != null) {
            b = b.withAdminSocket(adminSocketOverride);
        }
        if (readinessOverride != null) {
            b = b.withReadiness(readinessOverride);
        }
        return b;
    }

    /** The snapshot in force (settings and pods). */
    public MeshSnapshot snapshot() {
        MeshSnapshot s = snapshot.get();
        return s == null ? MeshSnapshot.empty() : s;
    }

    /** The pod (captured or not) that has address {@code ip} in the snapshot in force. */
    public Optional<PodSpec> podByIp(InetAddress ip) {
        return snapshot().podByIp(ip);
    }

    /** Captured, failed and draining pods, with their counters. */
    public List<PodCapture> pods() {
        return reconciler == null ? List.of() : reconciler.pods();
    }

    /** The capture of the pod {@code namespace/name}, if it is captured (or failed, or draining). */
    public Optional<PodCapture> pod(String key) {
        return pods().stream().filter(p -> p.spec().key().equals(key)).findFirst();
    }

    /** How this node's pods are captured (pending, captured, failed and why, released) and the failures so far. */
    public CaptureReport captures() {
        return reconciler == null ? CaptureReport.EMPTY : reconciler.report();
    }

    /**
     * The certificates of this node's workloads (one per service account with a captured pod), when the boot settings
     * name a mesh CA.
     */
    public Optional<IdentityManager> identities() {
        return Optional.ofNullable(identities);
    }

    /** Node-wide totals. */
    public NodeStats nodeStats() {
        return nodeStats;
    }

    /** The transport in use (after any fallback). */
    public Transport transport() {
        return transport;
    }

    /** The settings the proxy started with (fixed while it runs), or null before {@link #start()}. */
    public BootSettings boot() {
        return boot;
    }

    /** Where the admin server listens (the real port when 0 was configured). */
    public InetSocketAddress adminAddress() {
        return admin.address();
    }

    /** The Unix socket the admin API is served on too. */
    public Path adminSocket() {
        return admin.socket();
    }

    /** Where the readiness probe listens (the real port when 0 was configured). */
    public InetSocketAddress readinessAddress() {
        return readinessServer.address();
    }

    /** The telemetry reporter this proxy started, if it started one. */
    public Optional<TelemetryReporter> reporter() {
        return Optional.ofNullable(reporter);
    }

    /** The CNI control socket, when the builder asked for one and the proxy has started. */
    public Optional<ControlSocket> controlSocket() {
        return Optional.ofNullable(controlSocket);
    }

    /** Why the source's latest change was rejected (by the source, or here for its capture), or null. */
    public String lastConfigError() {
        return configError(source.status());
    }

    private String configError(SourceStatus status) {
        return status.lastError() != null ? status.lastError() : captureRejection;
    }

    /**
     * Stops accepting on every pod, lets open connections finish until the drain timeout, closes what is left, then
     * stops (telemetry last, so the drained connections are reported). Redirect rules stay in place (traffic fails
     * closed while the proxy is away) unless the builder asked to remove them; then they go after the drain.
     */
    @Override
    public synchronized void close() {
        if (reconciler == null || closed) {
            if (!closed && reporter != null) {
                reporter.close(); // start() failed after telemetry began
            }
            closed = true;
            return;
        }
        closed = true;
        readiness.draining();
        if (handoverSocket != null) {
            handoverSocket.close(); // no takeover of a proxy that is leaving: a new one opens its own listeners
        }
        ControlSocket cni = controlSocket;
        controlSocket = null;
        if (cni != null) {
            cni.close(); // no pod is handed over to a proxy that is leaving: the plugin fails closed
        }
        source.close();
        stopKeeping(false); // the session stays open until the pods are drained: forgotten there if rules go
        ProxySettings settings = snapshot.get().proxy();
        try {
            boolean removeRules = removeRulesOnStop && !handedOver;
            var drained = onControlThread(() -> reconciler.releaseAll(settings, removeRules));
            drained.get(settings.drainTimeout().toMillis() + 5_000, TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            log.warn("drain did not finish cleanly: {}", e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (handoff != null) {
            onControlThread(() -> {
                handoff.close();
                return null;
            });
        }
        if (keeper != null) {
            keeper.close(); // the keeper holds on: the next proxy takes the listeners from it
        }
        admin.close();
        readinessServer.close();
        shutdownThreads();
        if (identities != null) {
            identities.close();
        }
        if (reporter != null) {
            reporter.close();
        }
        log.info("proxy stopped");
    }

    private void shutdownThreads() {
        control.shutdownNow();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private <T> T onControlThread(Callable<T> body) {
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

    /** What a takeover by the next proxy asks of this one (docs/upgrade.md); from the handover socket's thread. */
    private final class HandoverHost implements HandoverSocket.Host {
        @Override
        public HandoverSocket.Retired retire() throws IOException {
            ControlSocket cni = controlSocket;
            if (cni != null) {
                // First, so that a pod the plugin hands over meanwhile is captured here and goes with the others; the
                // plugin's next calls wait in the socket's backlog for the new proxy.
                cni.stopAccepting();
            }
            onControlThread(() -> retired = true);
            stopKeeping(true); // the new proxy holds the pods with the keeper now
            admin.releaseSocket(); // the node's CLI asks the new proxy from now on (loopback stays here)
            Map<String, HandoverSocket.Listeners> pods = onControlThread(() -> {
                Map<String, HandoverSocket.Listeners> listeners = new LinkedHashMap<>();
                for (ListenerKeeper.Kept pod : keptPods()) {
                    listeners.put(pod.key(), pod.listeners());
                }
                return listeners;
            });
            return new HandoverSocket.Retired(pods,
                    cni == null ? null : new HandoverSocket.ControlListener(cni.path(), cni.duplicate()));
        }

        @Override
        public void resume() {
            onControlThread(() -> {
                retired = false;
                if (fromSource != null) {
                    apply(fromSource);
                }
            });
            if (keeper != null && !closed) {
                onControlThread(() -> keeper.ensure(NodeProxy.this::keptPods, true)); // hold again, every pod kept
                startKeeping();
            }
            ControlSocket cni = controlSocket;
            if (cni != null && !closed) {
                try {
                    cni.resumeAccepting(); // the same socket: its file never went, the calls in its backlog are ours
                } catch (IOException e) {
                    log.error("cannot accept on the CNI control socket {} again: {}", cni.path(), e.getMessage());
                }
            }
            try {
                admin.restoreSocket();
            } catch (IOException e) {
                log.error("cannot serve the admin socket {} again: {}", admin.socket(), e.getMessage());
            }
        }

        @Override
        public List<CompletableFuture<MovedConnection>> stopAccepting(long quiesceMillis) {
            handedOver = true;
            readiness.draining();
            ControlSocket cni = controlSocket;
            controlSocket = null;
            if (cni != null) {
                cni.release(); // the new proxy serves it; its file stays
            }
            return onControlThread(() -> {
                List<CompletableFuture<MovedConnection>> moves = new ArrayList<>();
                for (PodCapture pod : reconciler.pods()) {
                    if (pod.listening()) {
                        moves.addAll(pod.handOver(quiesceMillis));
                    }
                }
                return moves;
            });
        }

        @Override
        public void handedOver(int moved, int kept) {
            log.info("handed over to the new proxy: {} relay(s) moved, {} connection(s) drain here; stop this proxy",
                    moved, kept);
        }
    }

    /** What the CNI handoff asks of the proxy; on the control thread. */
    private final class HandoffHost implements PodHandoff.Host {
        @Override
        public void reapply() {
            // Retired: a new proxy is taking the pods over; a pod captured here now would not go with them.
            if (fromSource != null && !retired) {
                applyMerged(handoff.overlay(fromSource));
            }
        }

        @Override
        public CaptureState captureState(String key) {
            return reconciler.report().states().get(key);
        }

        @Override
        public Set<Path> netnsInUse() {
            Set<Path> paths = new HashSet<>();
            for (PodCapture pod : reconciler.pods()) {
                // Stopped ones too: a released pod's rules are removed after its drain, through its path.
                if (pod.spec().netns() != null) {
                    paths.add(pod.spec().netns());
                }
            }
            return paths;
        }
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
            SourceStatus s = source.status();
            return new ConfigStatus(s.source(), s.loadedAtMillis(), configError(s), s.details());
        }

        @Override
        public MeshSnapshot snapshot() {
            return NodeProxy.this.snapshot();
        }

        @Override
        public CaptureReport captures() {
            return NodeProxy.this.captures();
        }

        @Override
        public List<CertificateStatus> certificates() {
            return identities == null ? List.of() : identities.status();
        }

        @Override
        public BootSettings boot() {
            return boot;
        }

        @Override
        public ListenerKeeper.Status keeper() {
            ListenerKeeper k = keeper;
            return k == null ? null : k.status();
        }
    }

    /** Settings for a {@link NodeProxy}; only the workload source (or the config file) is required. */
    public static final class Builder {
        private WorkloadSource source;
        private Path configFile;
        private Duration pollInterval = Duration.ofSeconds(1);
        private TransportKind transport;
        private CaptureMode capture;
        private Integer workers;
        private InetSocketAddress admin;
        private Path adminSocket;
        private InetSocketAddress readiness;
        private ConnectionSink sink;
        private ReporterConfig telemetry;
        private ReportTransport telemetryTransport;
        private RouteDecider routes;
        private Function<RulesBackend, PodRules> rules;
        private boolean removeRulesOnStop;
        private Path cniSocket;
        private Path enrolmentFile;
        private Path handoverSocket;
        private Path keeperSocket;
        private Path bpffs = Path.of("/sys/fs/bpf");

        private Builder() {
        }

        /**
         * The bpf filesystem where {@code capture: ebpf} pins its pods' inbound programs, so they outlive the process
         * (default {@code /sys/fs/bpf}).
         */
        public Builder bpffs(Path mount) {
            this.bpffs = Objects.requireNonNull(mount, "mount");
            return this;
        }

        /** Where the mesh comes from. */
        public Builder source(WorkloadSource source) {
            this.source = Objects.requireNonNull(source, "source");
            this.configFile = null;
            return this;
        }

        /** The standalone YAML file (see {@link io.nodemesh.proxy.discovery.StandaloneConfig}), polled for changes. */
        public Builder configFile(Path file) {
            this.configFile = Objects.requireNonNull(file, "file");
            this.source = null;
            return this;
        }

        /** How often the config file is checked for changes (default 1 s). */
        public Builder pollInterval(Duration interval) {
            this.pollInterval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /** Overrides the source's transport. */
        public Builder transport(TransportKind kind) {
            this.transport = kind;
            return this;
        }

        /** Overrides the source's {@code proxy.capture}, in every snapshot it hands over. */
        public Builder capture(CaptureMode mode) {
            this.capture = mode;
            return this;
        }

        /** Overrides the source's number of event-loop threads. */
        public Builder workers(int threads) {
            if (threads < 1) {
                throw new IllegalArgumentException("workers must be at least 1, not " + threads);
            }
            this.workers = threads;
            return this;
        }

        /** Overrides the source's admin address. */
        public Builder admin(InetSocketAddress address) {
            this.admin = address;
            return this;
        }

        /** Overrides the source's admin Unix socket. */
        public Builder adminSocket(Path socket) {
            this.adminSocket = socket;
            return this;
        }

        /** Overrides the source's readiness probe address. */
        public Builder readiness(InetSocketAddress address) {
            this.readiness = address;
            return this;
        }

        /**
         * Reports every connection to the telemetry agent: the proxy starts the reporter with its own snapshot as the
         * workload lookup, and stops it last. Replaces a {@link #sink} set before.
         */
        public Builder telemetry(ReporterConfig config) {
            this.telemetry = Objects.requireNonNull(config, "config");
            this.telemetryTransport = null;
            this.sink = null;
            return this;
        }

        /**
         * As {@link #telemetry(ReporterConfig)}, the reports going to {@code transport} (an agent in this process)
         * instead of the agent's socket; the reporter closes it when the proxy stops.
         */
        public Builder telemetry(ReporterConfig config, ReportTransport transport) {
            telemetry(config);
            this.telemetryTransport = Objects.requireNonNull(transport, "transport");
            return this;
        }

        /** Reports every connection to {@code sink} instead (tests, embedding). Replaces a {@link #telemetry} set before. */
        public Builder sink(ConnectionSink sink) {
            this.sink = Objects.requireNonNull(sink, "sink");
            this.telemetry = null;
            this.telemetryTransport = null;
            return this;
        }

        /** The route decision (default: one for the boot settings' trust domain). */
        public Builder routes(RouteDecider decider) {
            this.routes = Objects.requireNonNull(decider, "decider");
            return this;
        }

        /**
         * Who installs redirect rules for each {@code proxy.rules} backend (default: the redirect-rules module, with the
         * proxy's {@link ConnectCapture} for {@code capture: ebpf}).
         */
        public Builder rules(Function<RulesBackend, PodRules> rules) {
            this.rules = Objects.requireNonNull(rules, "rules");
            return this;
        }

        /** Whether {@link #close()} also removes the pods' redirect rules (default false: fail closed). */
        public Builder removeRulesOnStop(boolean remove) {
            this.removeRulesOnStop = remove;
            return this;
        }

        /**
         * Opens the CNI control socket at {@code socket} (docs/cni.md): the plugin hands each new pod over there, its
         * network namespace as a descriptor, and is answered once the pod is captured. Off by default.
         */
        public Builder cniSocket(Path socket) {
            this.cniSocket = socket;
            return this;
        }

        /** Writes the enrolled namespaces to {@code file} for the CNI plugin whenever they change. Off by default. */
        public Builder enrolmentFile(Path file) {
            this.enrolmentFile = file;
            return this;
        }

        /**
         * The handover socket (docs/upgrade.md): at start, if a proxy listens there, this one takes its pods'
         * listeners and relays over instead of opening its own; then it listens there itself for the next. Off by
         * default.
         */
        public Builder handoverSocket(Path socket) {
            this.handoverSocket = socket;
            return this;
        }

        /**
         * The listener keeper's socket (docs/upgrade.md, "A restart: the listener keeper"): this proxy gives
         * {@code nodemesh-keeper} a duplicate of every captured pod's listeners, so that they go on listening while
         * the proxy restarts, and at start, when no proxy answers at the handover socket, takes them over from it.
         * Off by default; epoll only.
         */
        public Builder keeperSocket(Path socket) {
            this.keeperSocket = socket;
            return this;
        }

        public NodeProxy build() {
            return new NodeProxy(this);
        }
    }
}
