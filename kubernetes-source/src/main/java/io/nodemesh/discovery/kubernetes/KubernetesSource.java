package io.nodemesh.discovery.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.ReducedStateItemStore;
import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.SourceStatus;
import io.nodemesh.proxy.discovery.StandaloneConfig;
import io.nodemesh.proxy.discovery.WorkloadSource;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh as the Kubernetes API says it is: shared informers on namespaces, this node's pods (field selector
 * {@code spec.nodeName}), every node's pods (keeping only what identifies a meshed pod: {@code CLUSTER_POD_FIELDS}),
 * services, EndpointSlices ({@code discovery.k8s.io/v1}) and {@code NodemeshAuthorizationPolicy}
 * custom resources ({@link PolicyResources}; the CRD must be installed), turned into snapshots by
 * {@link SnapshotBuilder}. The client is fabric8's on the JDK's HTTP client; its configuration comes from a kubeconfig
 * file or, without one, from fabric8's auto-configuration (in a pod: the service account's token and CA and
 * {@code KUBERNETES_SERVICE_HOST}; elsewhere {@code ~/.kube/config}).
 *
 * <p>{@link #start()} blocks until every informer has listed its objects (a {@link ConfigException} naming those that
 * did not, after the sync timeout). From then on every change any informer sees schedules a rebuild, debounced
 * ({@link Debounce}: a burst of events gives a handful of snapshots); a rebuild that gives the snapshot in force again
 * hands nothing on. A watch that breaks is re-established by fabric8 (resumed, or listed again when the API has
 * compacted past it), and the rebuild after it catches the snapshot up; while a list fails {@link #status()} says why.
 * A watch that goes quiet without breaking is caught by a periodic check against a direct list ({@code watchCheck})
 * and started anew.
 *
 * <p>Network namespaces: a pod to capture that was already running when the proxy learnt of it (the proxy restarted,
 * its namespace was enrolled later) is looked for by its addresses through the {@link NetnsFinder}, once per rebuild
 * for all such pods. What is found is kept by pod uid; a pod not found yet is in the snapshot to capture without a
 * namespace (its capture fails, saying so), and rebuilds are retried every {@code netnsRetry} while any is missing.
 * (The CNI plugin will hand new pods' namespaces over at pod start.)
 *
 * <p>Boot and proxy settings come from an optional settings file in the standalone format of which only the
 * {@code proxy:} section is allowed, read at start.
 */
public final class KubernetesSource implements WorkloadSource {

    private static final Logger log = LoggerFactory.getLogger(KubernetesSource.class);

    private final String node;
    private final KubernetesClient givenClient;
    private final Path kubeconfig;
    private final Path settingsFile;
    private final NetnsFinder finder;
    private final Duration syncTimeout;
    private final Duration netnsRetry;
    private final Duration watchCheck;
    private final Debounce debounce;
    private final Map<String, Path> netnsByUid = new ConcurrentHashMap<>();

    private KubernetesClient client;
    /**
     * What the informer on every node's pods keeps of each (besides its namespace and name): enough to know another
     * node's meshed pod and its identity, a few hundred bytes instead of the whole object.
     */
    private static final String[] CLUSTER_POD_FIELDS = {"metadata.labels", "metadata.annotations", "spec.nodeName",
            "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs"};

    private final List<Watched<?>> watched = new CopyOnWriteArrayList<>();
    private Watched<Namespace> namespaces;
    private Watched<Pod> pods;
    private Watched<Pod> clusterPods;
    private Watched<Service> services;
    private Watched<EndpointSlice> slices;
    private Watched<GenericKubernetesResource> policies;
    private ProxySettings settings = ProxySettings.defaults();
    private BootSettings boot;
    private ScheduledExecutorService control;
    private ScheduledFuture<?> watchdog;
    private final AtomicBoolean checking = new AtomicBoolean();
    private Consumer<MeshSnapshot> apply;
    private MeshSnapshot current;
    private boolean retryScheduled;
    private Set<String> reported = Set.of();
    private volatile String problems;
    private volatile String buildError;
    private volatile long loadedAtMillis;
    private volatile boolean closed;

    private KubernetesSource(Builder b) {
        this.node = b.node;
        this.givenClient = b.client;
        this.kubeconfig = b.kubeconfig;
        this.settingsFile = b.settingsFile;
        this.finder = b.finder;
        this.syncTimeout = b.syncTimeout;
        this.netnsRetry = b.netnsRetry;
        this.watchCheck = b.watchCheck;
        this.debounce = new Debounce(b.quiet, b.max, this::rebuildQuietly);
    }

    /** A source for the node {@code nodeName} (the downward API's {@code spec.nodeName}). */
    public static Builder builder(String nodeName) {
        return new Builder(nodeName);
    }

    @Override
    public String describe() {
        String api = client != null ? client.getMasterUrl().toString() : kubeconfig != null ? kubeconfig.toString()
                : "(auto-configured)";
        return "Kubernetes API " + api + ", node " + node;
    }

    @Override
    public MeshSnapshot start() throws ConfigException {
        if (settingsFile != null) {
            readSettings();
        }
        client = givenClient != null ? givenClient : newClient();
        KubernetesClient c = client;
        namespaces = watch("namespaces", () -> c.namespaces().runnableInformer(0),
                () -> c.namespaces().list().getItems());
        pods = watch("pods of node " + node,
                () -> c.pods().inAnyNamespace().withField("spec.nodeName", node).runnableInformer(0),
                () -> c.pods().inAnyNamespace().withField("spec.nodeName", node).list().getItems());
        clusterPods = watch("pods of all nodes", () -> c.pods().inAnyNamespace().runnableInformer(0)
                .itemStore(new ReducedStateItemStore<>(ReducedStateItemStore.NAME_KEY_STATE, Pod.class,
                        c.getKubernetesSerialization(), CLUSTER_POD_FIELDS)),
                () -> c.pods().inAnyNamespace().list().getItems());
        services = watch("services", () -> c.services().inAnyNamespace().runnableInformer(0),
                () -> c.services().inAnyNamespace().list().getItems());
        slices = watch("endpointslices", () -> c.discovery().v1().endpointSlices().inAnyNamespace()
                .runnableInformer(0), () -> c.discovery().v1().endpointSlices().inAnyNamespace().list().getItems());
        policies = watch("nodemeshauthorizationpolicies.nodemesh.io", () -> c.genericKubernetesResources(
                PolicyResources.CONTEXT).inAnyNamespace().runnableInformer(0), () -> c.genericKubernetesResources(
                PolicyResources.CONTEXT).inAnyNamespace().list().getItems());
        awaitSync();
        SnapshotBuilder.Result first;
        try {
            first = build();
        } catch (RuntimeException e) {
            close();
            throw new ConfigException(describe() + ": cannot build the first snapshot: " + e.getMessage(), e);
        }
        current = first.snapshot();
        loadedAtMillis = System.currentTimeMillis();
        log.info("{}: synced: {} namespace(s), {} pod(s), {} service(s), {} policy(ies)", describe(),
                current.namespaces().size(), current.pods().size(), current.services().size(),
                current.policies().size());
        return current;
    }

    private void readSettings() throws ConfigException {
        StandaloneConfig.Document doc = StandaloneConfig.load(settingsFile);
        MeshSnapshot s = doc.snapshot();
        if (!s.pods().isEmpty() || !s.namespaces().isEmpty() || !s.services().isEmpty() || !s.policies().isEmpty()) {
            throw new ConfigException(settingsFile + ": with the Kubernetes source only the proxy section is read; "
                    + "namespaces, pods, services and policies come from the API (remove them from this file)");
        }
        settings = doc.proxy();
        boot = doc.boot();
    }

    private KubernetesClient newClient() throws ConfigException {
        try {
            Config config = kubeconfig != null ? Config.fromKubeconfig(kubeconfig.toFile())
                    : Config.autoConfigure(null);
            return new KubernetesClientBuilder().withConfig(config).build();
        } catch (RuntimeException e) {
            throw new ConfigException((kubeconfig != null ? kubeconfig + ": " : "Kubernetes client configuration: ")
                    + e.getMessage(), e);
        }
    }

    private <T extends HasMetadata> Watched<T> watch(String what, Supplier<SharedIndexInformer<T>> factory,
            Supplier<List<T>> lister) {
        Watched<T> w = new Watched<>(what, factory, lister);
        w.informer = informer(w);
        watched.add(w);
        return w;
    }

    /** A new informer for {@code w}, every change it sees scheduling a rebuild. Not started. */
    private <T extends HasMetadata> SharedIndexInformer<T> informer(Watched<T> w) {
        String what = w.what;
        SharedIndexInformer<T> informer = w.factory.get();
        informer.addEventHandler(new ResourceEventHandler<T>() {
            @Override
            public void onAdd(T obj) {
                debounce.changed();
            }

            @Override
            public void onUpdate(T oldObj, T newObj) {
                debounce.changed();
            }

            @Override
            public void onDelete(T obj, boolean deletedFinalStateUnknown) {
                debounce.changed();
            }
        });
        informer.exceptionHandler((started, t) -> {
            String error = what + ": " + t;
            if (!error.equals(w.error)) {
                log.warn("{}: {} (retrying)", describe(), error);
            }
            w.error = error;
            return !closed; // keep retrying: a list or watch that fails now may work in a moment
        });
        return informer;
    }

    /** Starts every informer and waits until all have listed, or the sync timeout has passed. */
    private void awaitSync() throws ConfigException {
        long deadline = System.nanoTime() + syncTimeout.toNanos();
        List<CompletableFuture<Void>> started = new ArrayList<>();
        watched.forEach(w -> started.add(w.informer.start().toCompletableFuture()));
        for (var f : started) {
            try {
                f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException | ExecutionException e) {
                break; // reported below, with every informer that has not synced
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new ConfigException(describe() + ": interrupted while waiting for the first sync");
            }
        }
        List<String> missing = new ArrayList<>();
        String error = null;
        for (Watched<?> w : watched) {
            if (!w.informer.hasSynced()) {
                missing.add(w.what);
                error = error != null ? error : w.error;
            }
        }
        if (!missing.isEmpty()) {
            String api = describe();
            close();
            throw new ConfigException(api + ": not synced within " + syncTimeout.toMillis() + " ms: "
                    + String.join(", ", missing) + (error == null ? "" : " (last error: " + error + ")"));
        }
    }

    /** Builds from the informers' caches, looking once for the namespaces of pods to capture that lack one. */
    private SnapshotBuilder.Result build() {
        SnapshotBuilder.Result result = buildWith();
        if (!result.unplaced().isEmpty() && finder != NetnsFinder.NONE) {
            Set<InetAddress> addresses = new LinkedHashSet<>();
            result.unplaced().forEach(u -> addresses.addAll(u.ips()));
            Map<InetAddress, Path> found = finder.find(addresses);
            boolean placed = false;
            for (SnapshotBuilder.Unplaced u : result.unplaced()) {
                Path path = u.ips().stream().map(found::get).filter(Objects::nonNull).findFirst().orElse(null);
                if (path != null && u.uid() != null) {
                    netnsByUid.put(u.uid(), path);
                    log.info("pod {}: network namespace found at {}", u.key(), path);
                    placed = true;
                }
            }
            if (placed) {
                result = buildWith();
            }
        }
        Set<String> uids = new HashSet<>();
        pods.informer.getStore().list().forEach(p -> uids.add(p.getMetadata().getUid()));
        netnsByUid.keySet().retainAll(uids);
        report(result.problems());
        return result;
    }

    private SnapshotBuilder.Result buildWith() {
        return SnapshotBuilder.build(node, settings, namespaces.informer.getStore().list(),
                pods.informer.getStore().list(), clusterPods.informer.getStore().list(), services.informer.getStore().list(),
                slices.informer.getStore().list(), policies.informer.getStore().list(), netnsByUid);
    }

    /** Logs each problem once (again only if it went away and came back). */
    private void report(List<String> now) {
        Set<String> next = new HashSet<>(now);
        for (String p : now) {
            if (!reported.contains(p)) {
                log.warn("{}: {}", describe(), p);
            }
        }
        reported = next;
        problems = now.isEmpty() ? null : now.size() + " object(s) left out, first: " + now.getFirst();
    }

    @Override
    public BootSettings boot(BootSettings defaults) {
        return boot == null ? defaults : boot;
    }

    @Override
    public void follow(ScheduledExecutorService control, Consumer<MeshSnapshot> apply) {
        this.control = control;
        this.apply = apply;
        debounce.attach(control);
        control.execute(this::retryIfUnplaced);
        long millis = watchCheck.toMillis();
        watchdog = control.scheduleWithFixedDelay(() -> {
            if (checking.compareAndSet(false, true)) { // a check still listing is not doubled
                Thread.ofVirtual().name("nodemesh-kube-watchdog").start(() -> {
                    try {
                        checkWatches();
                    } finally {
                        checking.set(false);
                    }
                });
            }
        }, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Lists every kind directly and restarts an informer found behind the API: an object the API showed unchanged at
     * two checks in a row that the informer's cache does not hold as listed, or an object the cache still holds that
     * neither list showed. Events in flight cannot look like that (they are younger than one interval); a watch that
     * went deaf does (seen with fabric8 8.0 on the JDK's WebSocket: a watch whose connection was closed while it held
     * a message in hand never noticed, and never saw another event). Restarting lists again and watches anew.
     */
    private void checkWatches() {
        for (Watched<?> w : watched) {
            if (closed) {
                return;
            }
            try {
                check(w);
            } catch (RuntimeException e) {
                log.debug("{}: cannot list {} to check its watch: {}", describe(), w.what, e.toString());
            }
        }
    }

    private <T extends HasMetadata> void check(Watched<T> w) {
        Map<String, String> listed = versions(w.lister.get());
        Map<String, String> previous = w.lastListed;
        w.lastListed = listed;
        if (previous == null || !w.informer.hasSynced()) {
            return;
        }
        Map<String, String> cached = versions(w.informer.getStore().list());
        boolean behind = false;
        for (var e : listed.entrySet()) {
            behind |= e.getValue().equals(previous.get(e.getKey())) && !e.getValue().equals(cached.get(e.getKey()));
        }
        for (String uid : cached.keySet()) {
            behind |= !listed.containsKey(uid) && !previous.containsKey(uid);
        }
        if (behind && !closed) {
            log.warn("{}: the {} informer is behind the API (its watch went quiet): listing and watching again",
                    describe(), w.what);
            restart(w);
        }
    }

    /**
     * Replaces {@code w}'s informer by a new one once that one has listed (a rebuild meanwhile reads the old one's
     * cache: a new informer's cache is empty until its list is in, and a snapshot built from it would release every
     * pod). On a watchdog thread.
     */
    private <T extends HasMetadata> void restart(Watched<T> w) {
        SharedIndexInformer<T> fresh = informer(w);
        try {
            fresh.start().toCompletableFuture().get(syncTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            fresh.stop();
            Thread.currentThread().interrupt();
            return;
        } catch (ExecutionException | TimeoutException e) {
            fresh.stop();
            log.warn("{}: {} did not list again within {} ms; trying at the next check", describe(), w.what,
                    syncTimeout.toMillis());
            return;
        }
        SharedIndexInformer<T> stale = w.informer;
        w.informer = fresh;
        w.lastListed = null;
        stale.stop();
        if (closed) {
            fresh.stop();
        }
        debounce.changed();
    }

    private static Map<String, String> versions(List<? extends HasMetadata> objects) {
        Map<String, String> out = new HashMap<>();
        for (HasMetadata o : objects) {
            if (o.getMetadata() != null && o.getMetadata().getUid() != null) {
                out.put(o.getMetadata().getUid(), String.valueOf(o.getMetadata().getResourceVersion()));
            }
        }
        return out;
    }

    @Override
    public boolean refresh() {
        return rebuild();
    }

    private void rebuildQuietly() {
        try {
            rebuild();
        } catch (RuntimeException e) {
            log.error("{}: rebuild failed, keeping the snapshot in force", describe(), e);
        }
    }

    /** Builds and hands a changed snapshot on; on the control thread. Returns whether it changed. */
    private boolean rebuild() {
        if (closed) {
            return false;
        }
        MeshSnapshot next;
        try {
            next = build().snapshot();
            buildError = null;
        } catch (RuntimeException e) {
            buildError = "cannot build a snapshot, keeping the last good one: " + e.getMessage();
            log.error("{}: {}", describe(), buildError, e);
            return true;
        }
        retryIfUnplaced();
        if (next.equals(current)) {
            return false;
        }
        current = next;
        loadedAtMillis = System.currentTimeMillis();
        if (apply != null) {
            apply.accept(next);
        }
        return true;
    }

    /** Schedules a rebuild in {@code netnsRetry} while a pod to capture has no namespace; on the control thread. */
    private void retryIfUnplaced() {
        if (retryScheduled || closed || finder == NetnsFinder.NONE || current == null || control == null) {
            return;
        }
        boolean unplaced = current.pods().values().stream()
                .anyMatch(p -> p.capture() && p.netns() == null && !p.ips().isEmpty());
        if (unplaced) {
            retryScheduled = true;
            control.schedule(() -> {
                retryScheduled = false;
                rebuildQuietly();
            }, netnsRetry.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public SourceStatus status() {
        String error = buildError;
        for (Watched<?> w : watched) {
            if (error == null && w.error != null && !w.informer.isWatching()) {
                error = w.error;
            }
        }
        return new SourceStatus(describe(), loadedAtMillis, error != null ? error : problems);
    }

    /** The namespaces found so far for pods to capture, by pod uid (what the next snapshots use). */
    Map<String, Path> netnsByUid() {
        return Map.copyOf(netnsByUid);
    }

    @Override
    public void close() {
        closed = true;
        debounce.close();
        if (watchdog != null) {
            watchdog.cancel(false);
        }
        watched.forEach(w -> w.informer.stop());
        if (client != null && givenClient == null) {
            client.close();
        }
    }

    /**
     * One kind of object watched: its informer (replaced when it is found behind), how to make another and how to
     * list the objects directly, and what it last failed with (the exception handler's thread writes, status() reads).
     */
    private static final class Watched<T extends HasMetadata> {
        final String what;
        final Supplier<SharedIndexInformer<T>> factory;
        final Supplier<List<T>> lister;
        volatile SharedIndexInformer<T> informer;
        volatile String error;
        Map<String, String> lastListed;

        Watched(String what, Supplier<SharedIndexInformer<T>> factory, Supplier<List<T>> lister) {
            this.what = what;
            this.factory = factory;
            this.lister = lister;
        }
    }

    /** Settings for a {@link KubernetesSource}; only the node name is required. */
    public static final class Builder {
        private final String node;
        private KubernetesClient client;
        private Path kubeconfig;
        private Path settingsFile;
        private NetnsFinder finder = NetnsFinder.NONE;
        private Duration quiet = Duration.ofMillis(100);
        private Duration max = Duration.ofSeconds(1);
        private Duration syncTimeout = Duration.ofSeconds(30);
        private Duration netnsRetry = Duration.ofSeconds(2);
        private Duration watchCheck = Duration.ofMinutes(2);

        private Builder(String node) {
            if (node == null || node.isBlank()) {
                throw new IllegalArgumentException("a node name is required (the downward API's spec.nodeName)");
            }
            this.node = node;
        }

        /** Talks through {@code client}, which the caller keeps and closes (tests, embedding). */
        public Builder client(KubernetesClient client) {
            this.client = Objects.requireNonNull(client, "client");
            this.kubeconfig = null;
            return this;
        }

        /** Configures the client from this kubeconfig file instead of fabric8's auto-configuration. */
        public Builder kubeconfig(Path file) {
            this.kubeconfig = Objects.requireNonNull(file, "file");
            this.client = null;
            return this;
        }

        /** Reads the proxy's settings ({@code proxy:} of the standalone format, nothing else) from {@code file}. */
        public Builder settingsFile(Path file) {
            this.settingsFile = Objects.requireNonNull(file, "file");
            return this;
        }

        /** How running pods' network namespaces are found (default {@link NetnsFinder#NONE}). */
        public Builder netnsFinder(NetnsFinder finder) {
            this.finder = Objects.requireNonNull(finder, "finder");
            return this;
        }

        /**
         * Rebuild once changes have been quiet for {@code quiet}, at the latest {@code max} after the first change
         * (default 100 ms, 1 s).
         */
        public Builder debounce(Duration quiet, Duration max) {
            this.quiet = Objects.requireNonNull(quiet, "quiet");
            this.max = Objects.requireNonNull(max, "max");
            return this;
        }

        /** How long {@link #start()} waits for the first full sync (default 30 s). */
        public Builder syncTimeout(Duration timeout) {
            this.syncTimeout = Objects.requireNonNull(timeout, "timeout");
            return this;
        }

        /** How often to look again for the namespaces of pods not found yet (default 2 s). */
        public Builder netnsRetry(Duration interval) {
            this.netnsRetry = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /**
         * How often every kind is listed to check that its watch still follows the API (default 2 min): a watch
         * found behind is started anew, so a silently dead watch costs at most two intervals of staleness.
         */
        public Builder watchCheck(Duration interval) {
            this.watchCheck = Objects.requireNonNull(interval, "interval");
            return this;
        }

        public KubernetesSource build() {
            return new KubernetesSource(this);
        }
    }
}
