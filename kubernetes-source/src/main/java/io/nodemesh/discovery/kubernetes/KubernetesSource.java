package io.nodemesh.discovery.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.SourceStatus;
import io.nodemesh.proxy.discovery.StandaloneConfig;
import io.nodemesh.proxy.discovery.WorkloadSource;
import java.io.IOException;
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
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mesh as the Kubernetes API says it is: namespaces, this node's pods (field selector {@code spec.nodeName}), every
 * node's pods, services, EndpointSlices ({@code discovery.k8s.io/v1}) and {@code NodemeshAuthorizationPolicy} custom
 * resources ({@link PolicyResources}; the CRD must be installed), each listed and watched by a {@link WatchedKind} and
 * kept as the few fields the mesh reads ({@link ApiObjects}), turned into snapshots by {@link SnapshotBuilder}. The
 * client is our own on Netty ({@link ApiClient}: lists, and watches over WebSockets), without a typed
 * model of the API; its configuration ({@link ApiConfig}) comes from a kubeconfig file or, without one, from the pod's
 * service account (its token and CA and {@code KUBERNETES_SERVICE_HOST}), else {@code $KUBECONFIG} or
 * {@code ~/.kube/config}.
 *
 * <p>{@link #start()} blocks until every kind has been listed (a {@link ConfigException} naming those that were not,
 * after the sync timeout). From then on every change of any kind schedules a rebuild, debounced ({@link Debounce}: a
 * burst of events gives a handful of snapshots); a rebuild that gives the snapshot in force again hands nothing on. A
 * watch that breaks is re-established (resumed, or listed again when the API has compacted past it), and the rebuild
 * after it catches the snapshot up; while a list fails {@link #status()} says why. A watch that goes quiet without
 * breaking is caught by its pings, and by a periodic check against a direct list ({@code watchCheck}), which lists the
 * kind again.
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
    private final ApiConfig givenConfig;
    private final Path kubeconfig;
    private final Path settingsFile;
    private final NetnsFinder finder;
    private final CgroupFinder cgroups;
    private final Duration syncTimeout;
    private final Duration netnsRetry;
    private final Duration watchCheck;
    private final Duration reconnect;
    private final Duration ping;
    private final Debounce debounce;
    private final Map<String, Path> netnsByUid = new ConcurrentHashMap<>();

    private ApiClient client;

    private final List<Watched<?>> watched = new CopyOnWriteArrayList<>();
    private Watched<ApiObjects.Namespace> namespaces;
    private Watched<ApiObjects.Pod> pods;
    private Watched<ApiObjects.Pod> clusterPods;
    private Watched<ApiObjects.Service> services;
    private Watched<ApiObjects.EndpointSlice> slices;
    private Watched<ApiObjects.Policy> policies;
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
        this.givenConfig = b.config;
        this.kubeconfig = b.kubeconfig;
        this.settingsFile = b.settingsFile;
        this.finder = b.finder;
        this.cgroups = b.cgroups;
        this.syncTimeout = b.syncTimeout;
        this.netnsRetry = b.netnsRetry;
        this.watchCheck = b.watchCheck;
        this.reconnect = b.reconnect;
        this.ping = b.ping;
        this.debounce = new Debounce(b.quiet, b.max, this::rebuildQuietly);
    }

    /** A source for the node {@code nodeName} (the downward API's {@code spec.nodeName}). */
    public static Builder builder(String nodeName) {
        return new Builder(nodeName);
    }

    @Override
    public String describe() {
        String api = client != null ? client.server().toString() : givenConfig != null
                ? givenConfig.server().toString() : kubeconfig != null ? kubeconfig.toString() : "(auto-configured)";
        return "Kubernetes API " + api + ", node " + node;
    }

    @Override
    public MeshSnapshot start() throws ConfigException {
        long started = System.nanoTime();
        if (settingsFile != null) {
            readSettings();
        }
        client = new ApiClient(givenConfig != null ? givenConfig
                : kubeconfig != null ? ApiConfig.kubeconfig(kubeconfig) : ApiConfig.auto());
        CompletableFuture<NetnsFinder> ahead = lookAhead();
        namespaces = watch("namespaces", "/api/v1/namespaces", "", ApiObjects::namespace);
        pods = watch("pods of node " + node, "/api/v1/pods",
                "fieldSelector=" + ApiClient.encode("spec.nodeName=" + node), ApiObjects::pod);
        clusterPods = watch("pods of all nodes", "/api/v1/pods", "", ApiObjects::pod);
        services = watch("services", "/api/v1/services", "", ApiObjects::service);
        slices = watch("endpointslices", "/apis/discovery.k8s.io/v1/endpointslices", "",
                ApiObjects::endpointSlice);
        policies = watch(PolicyResources.PLURAL + "." + PolicyResources.GROUP, PolicyResources.PATH, "",
                ApiObjects::policy);
        try {
            awaitSync();
        } catch (ConfigException e) {
            ahead.join(); // its scan's thread ends with it
            throw e;
        }
        long listed = System.nanoTime();
        SnapshotBuilder.Result first;
        try {
            first = build(ahead.join());
        } catch (RuntimeException e) {
            close();
            throw new ConfigException(describe() + ": cannot build the first snapshot: " + e.getMessage(), e);
        }
        current = first.snapshot();
        loadedAtMillis = System.currentTimeMillis();
        long built = System.nanoTime();
        log.info("{}: synced: {} namespace(s), {} pod(s), {} service(s), {} policy(ies), in {} ms (listed in {} ms, "
                + "then the first snapshot and its pods' network namespaces {} ms)", describe(),
                current.namespaces().size(), current.pods().size(), current.services().size(),
                current.policies().size(), (built - started) / 1_000_000, (listed - started) / 1_000_000,
                (built - listed) / 1_000_000);
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

    private <T extends ApiObjects.ApiObject> Watched<T> watch(String what, String path, String query,
            Function<JsonNode, T> parse) {
        Watched<T> w = new Watched<>(what, path, query);
        w.kind = new WatchedKind<>(what, path, query, parse, client, debounce::changed, error -> {
            if (!error.equals(w.lastLogged)) {
                log.warn("{}: {} (retrying)", describe(), error);
            }
            w.lastLogged = error;
        }, reconnect, ping);
        watched.add(w);
        return w;
    }

    /** Starts every kind and waits until all have listed, or the sync timeout has passed. */
    private void awaitSync() throws ConfigException {
        long deadline = System.nanoTime() + syncTimeout.toNanos();
        List<CompletableFuture<Void>> started = new ArrayList<>();
        watched.forEach(w -> started.add(w.kind.start()));
        for (var f : started) {
            try {
                f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException | ExecutionException e) {
                break; // reported below, with every kind that has not synced
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new ConfigException(describe() + ": interrupted while waiting for the first sync");
            }
        }
        List<String> missing = new ArrayList<>();
        String error = null;
        for (Watched<?> w : watched) {
            if (!w.kind.hasSynced()) {
                missing.add(w.what);
                error = error != null ? error : w.kind.error();
            }
        }
        if (!missing.isEmpty()) {
            String api = describe();
            close();
            throw new ConfigException(api + ": not synced within " + syncTimeout.toMillis() + " ms: "
                    + String.join(", ", missing) + (error == null ? "" : " (last error: " + error + ")"));
        }
    }

    /**
     * Starts the finder's look ahead ({@link NetnsFinder#lookAhead}) on a thread of its own, so that it runs while the
     * first lists come in; a look that fails leaves the first snapshot to the finder itself.
     */
    private CompletableFuture<NetnsFinder> lookAhead() {
        CompletableFuture<NetnsFinder> ahead = new CompletableFuture<>();
        if (finder == NetnsFinder.NONE) {
            ahead.complete(finder);
            return ahead;
        }
        Thread.ofPlatform().name("nodemesh-netns-lookahead").daemon(true).start(() -> {
            try {
                ahead.complete(finder.lookAhead());
            } catch (RuntimeException e) {
                log.warn("{}: could not look for running pods' network namespaces ahead of the lists: {}", describe(),
                        e.toString());
            } finally {
                ahead.complete(finder); // whatever went wrong, the start is not left waiting (a no-op once done)
            }
        });
        return ahead;
    }

    /** Builds from the caches, looking once for the namespaces of pods to capture that lack one. */
    private SnapshotBuilder.Result build() {
        return build(finder);
    }

    /** Builds from the caches, looking once with {@code finder} for the namespaces of pods to capture that lack one. */
    private SnapshotBuilder.Result build(NetnsFinder finder) {
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
        pods.kind.objects().forEach(p -> uids.add(p.meta().uid()));
        netnsByUid.keySet().retainAll(uids);
        cgroups.retain(uids);
        report(result.problems());
        return result;
    }

    private SnapshotBuilder.Result buildWith() {
        return SnapshotBuilder.build(node, settings, namespaces.kind.objects(), pods.kind.objects(),
                clusterPods.kind.objects(), services.kind.objects(), slices.kind.objects(), policies.kind.objects(),
                netnsByUid, cgroups::find);
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
     * Lists every kind directly and lists again a kind found behind the API: an object the API showed unchanged at two
     * checks in a row that the cache does not hold as listed, or an object the cache still holds that neither list
     * showed. Events in flight cannot look like that (they are younger than one interval); a watch that went deaf
     * without its connection failing does. Listing again replaces the cache and watches anew.
     */
    private void checkWatches() {
        for (Watched<?> w : watched) {
            if (closed) {
                return;
            }
            try {
                check(w);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (IOException | RuntimeException e) {
                log.debug("{}: cannot list {} to check its watch: {}", describe(), w.what, e.toString());
            }
        }
    }

    private <T extends ApiObjects.ApiObject> void check(Watched<T> w) throws IOException, InterruptedException {
        Map<String, String> listed = new HashMap<>();
        client.list(w.path, w.query, item -> WatchedKind.putVersion(listed, ApiObjects.meta(item)));
        Map<String, String> previous = w.lastListed;
        w.lastListed = listed;
        if (previous == null || !w.kind.hasSynced()) {
            return;
        }
        Map<String, String> cached = w.kind.versions();
        boolean behind = false;
        for (var e : listed.entrySet()) {
            behind |= e.getValue().equals(previous.get(e.getKey())) && !e.getValue().equals(cached.get(e.getKey()));
        }
        for (String uid : cached.keySet()) {
            behind |= !listed.containsKey(uid) && !previous.containsKey(uid);
        }
        if (behind && !closed) {
            log.warn("{}: the cache of {} is behind the API (its watch went quiet): listing and watching again",
                    describe(), w.what);
            w.lastListed = null;
            w.kind.relist();
        }
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
            if (error == null && w.kind.error() != null && !w.kind.isWatching()) {
                error = w.kind.error();
            }
        }
        List<String> details = new ArrayList<>();
        for (Watched<?> w : watched) {
            String failure = w.kind.error();
            String state;
            if (w.kind.isWatching()) {
                state = "watching";
            } else if (failure == null) {
                state = w.kind.hasSynced() ? "opening its watch" : "listing";
            } else {
                state = (w.kind.hasSynced() ? "not watching" : "not listed") + ", retrying: "
                        + failure.substring(failure.startsWith(w.what + ": ") ? w.what.length() + 2 : 0);
            }
            details.add(w.what + ": " + w.kind.size() + " object(s), " + state);
        }
        return new SourceStatus(describe(), loadedAtMillis, error != null ? error : problems, details);
    }

    /** The watch events of the kind named {@code what} that changed what the mesh reads, so far. */
    long changes(String what) {
        return watched.stream().filter(w -> w.what.equals(what)).mapToLong(w -> w.kind.changes()).sum();
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
        watched.forEach(w -> w.kind.stop());
        if (client != null) {
            client.close();
        }
    }

    /**
     * One kind of object watched: its cache, and its API path to list directly; what the last check listed and the
     * last failure logged.
     */
    private static final class Watched<T extends ApiObjects.ApiObject> {
        final String what;
        final String path;
        final String query;
        WatchedKind<T> kind;
        volatile String lastLogged;
        Map<String, String> lastListed;

        Watched(String what, String path, String query) {
            this.what = what;
            this.path = path;
            this.query = query;
        }
    }

    /** Settings for a {@link KubernetesSource}; only the node name is required. */
    public static final class Builder {
        private final String node;
        private ApiConfig config;
        private Path kubeconfig;
        private Path settingsFile;
        private NetnsFinder finder = NetnsFinder.NONE;
        private CgroupFinder cgroups = CgroupFinder.NONE;
        private Duration quiet = Duration.ofMillis(100);
        private Duration max = Duration.ofSeconds(1);
        private Duration syncTimeout = Duration.ofSeconds(30);
        private Duration netnsRetry = Duration.ofSeconds(2);
        private Duration watchCheck = Duration.ofMinutes(2);
        private Duration reconnect = Duration.ofSeconds(1);
        private Duration ping = Duration.ofSeconds(30);

        private Builder(String node) {
            if (node == null || node.isBlank()) {
                throw new IllegalArgumentException("a node name is required (the downward API's spec.nodeName)");
            }
            this.node = node;
        }

        /** Talks to the API as {@code config} says (tests, embedding). */
        public Builder api(ApiConfig config) {
            this.config = Objects.requireNonNull(config, "config");
            this.kubeconfig = null;
            return this;
        }

        /** Configures the client from this kubeconfig file instead of the pod's service account. */
        public Builder kubeconfig(Path file) {
            this.kubeconfig = Objects.requireNonNull(file, "file");
            this.config = null;
            return this;
        }

        /**
         * After a broken watch or a failed list, wait {@code delay} before trying again, doubling on each failure in a
         * row up to 30 s (default 1 s).
         */
        public Builder reconnect(Duration delay) {
            this.reconnect = Objects.requireNonNull(delay, "delay");
            return this;
        }

        /**
         * Ping each watch every {@code interval}; one that hears nothing (no event, no pong) for two intervals is
         * dropped and watched again (default 30 s).
         */
        public Builder ping(Duration interval) {
            this.ping = Objects.requireNonNull(interval, "interval");
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
         * How this node's pods' cgroups are found (default {@link CgroupFinder#NONE}: not looked for; only
         * {@code capture: ebpf} needs them).
         */
        public Builder cgroupFinder(CgroupFinder finder) {
            this.cgroups = Objects.requireNonNull(finder, "finder");
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
