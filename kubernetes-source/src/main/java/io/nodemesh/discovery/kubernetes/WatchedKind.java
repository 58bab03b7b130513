package io.nodemesh.discovery.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import io.nodemesh.discovery.kubernetes.ApiObjects.ApiObject;
import java.io.IOException;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The objects of one kind as the API has them: listed, then kept up to date by a watch from the list's resource
 * version, on a virtual thread of its own. Each object is kept as the {@link ApiObjects} record {@code parse} makes of
 * it, by {@code namespace/name}; every change of a record (beyond its resource version) calls {@code changed}.
 *
 * <p>What can happen to a watch, and what is done:
 * <ul>
 *   <li>the server ends it (its {@code timeoutSeconds}, randomised between 5 and 10 minutes): watched again from the
 *       last version seen, bookmarks included, at once;</li>
 *   <li>the connection breaks, or the server is silent for two ping intervals (no event, no pong): watched again from
 *       the last version after the reconnect delay, doubling on each failure in a row up to 30 s;</li>
 *   <li>the version is too old ({@code 410 Gone}, as an ERROR event or the handshake's status): listed again (after
 *       the delay when that version came from a list just made); the cache is replaced only once the list is in, so a
 *       snapshot built meanwhile still has every object;</li>
 *   <li>a list fails: tried again after the same delay, the error kept for {@link #error()}.</li>
 * </ul>
 * {@link #relist()} forces a list (the source's check found the cache behind the API).
 */
final class WatchedKind<T extends ApiObject> {

    private static final Duration MAX_DELAY = Duration.ofSeconds(30);

    private final String what;
    private final String path;
    private final String query;
    private final Function<JsonNode, T> parse;
    private final ApiClient api;
    private final Runnable changed;
    private final Consumer<String> failed;
    private final Duration reconnect;
    private final Duration ping;
    private final CompletableFuture<Void> synced = new CompletableFuture<>();
    private final AtomicLong changes = new AtomicLong();

    private volatile Map<String, T> cache = new ConcurrentHashMap<>();
    private volatile boolean watching;
    private volatile String error;
    private volatile boolean stopped;
    private volatile boolean relist;
    private volatile Events current;
    private Thread thread;
    /** Failures in a row, on this kind's thread: lists or watches that failed, or watches that broke at once. */
    private int failures;

    /**
     * @param what how logs and errors name the kind ({@code pods of node n})
     * @param path the API path to list and watch ({@code /api/v1/pods})
     * @param query an encoded query to add (a field selector), or empty
     * @param failed told each failure's message (the source logs each new one)
     */
    WatchedKind(String what, String path, String query, Function<JsonNode, T> parse, ApiClient api,
            Runnable changed, Consumer<String> failed, Duration reconnect, Duration ping) {
        this.what = what;
        this.path = path;
        this.query = query;
        this.parse = parse;
        this.api = api;
        this.changed = changed;
        this.failed = failed;
        this.reconnect = reconnect;
        this.ping = ping;
    }

    String what() {
        return what;
    }

    /** Starts listing and watching; the future completes once the first list is in. */
    CompletableFuture<Void> start() {
        thread = Thread.ofVirtual().name("nodemesh-kube " + what).start(this::run);
        return synced;
    }

    boolean hasSynced() {
        return synced.isDone();
    }

    /** Whether a watch is open now. */
    boolean isWatching() {
        return watching;
    }

    /** The last failure, until a watch opens again; null when there was none. */
    String error() {
        return error;
    }

    /** Watch events that changed what the mesh reads (added, deleted, or changed beyond the version). */
    long changes() {
        return changes.get();
    }

    /** How many objects the cache holds. */
    int size() {
        return cache.size();
    }

    /** The objects as last seen. */
    Collection<T> objects() {
        return List.copyOf(cache.values());
    }

    /** Lists again, dropping the watch now open (the cache stays until the list is in). */
    void relist() {
        relist = true;
        Events events = current;
        if (events != null) {
            events.abort("listing again");
        }
    }

    void stop() {
        stopped = true;
        Events events = current;
        if (events != null) {
            events.abort("stopped");
        }
        if (thread != null) {
            thread.interrupt();
        }
    }

    private void run() {
        String version = null;
        while (!stopped) {
            boolean listed = false;
            try {
                if (version == null || relist) {
                    relist = false;
                    version = list();
                    listed = true;
                }
                version = watch(version);
            } catch (InterruptedException e) {
                return;
            } catch (Gone e) {
                version = null;
                if (listed) {
                    // Gone from a version listed a moment ago: listing again at once could repeat it without end.
                    failures++;
                    if (!pause()) {
                        return;
                    }
                }
            } catch (IOException | RuntimeException e) {
                if (stopped) {
                    return;
                }
                watching = false;
                failures++;
                // A watch that was open and broke is not a failure to report (a connection that the API server, or a
                // load balancer, drops): it is watched again after the delay, and whether that fails is reported.
                // Reported are lists and watches that cannot be opened, and watches closed as they open, again.
                if (!(e instanceof StreamEnded ended) || ended.report(failures)) {
                    String message = what + ": " + (e.getMessage() == null ? e.toString() : e.getMessage());
                    error = message;
                    failed.accept(message);
                }
                if (!pause()) {
                    return;
                }
            }
        }
    }

    /** Waits the delay for the failures so far; false when interrupted (stopped). */
    private boolean pause() {
        try {
            Thread.sleep(delay(failures).toMillis());
            return true;
        } catch (InterruptedException e) {
            return false;
        }
    }

    private Duration delay(int failures) {
        // 1, 2, 4 ... times the reconnect delay, at most 30 s.
        long millis = reconnect.toMillis() << Math.min(failures - 1, 20);
        return Duration.ofMillis(Math.min(millis, MAX_DELAY.toMillis()));
    }

    /** Lists every object, replaces the cache with them, and returns the list's version. */
    private String list() throws IOException, InterruptedException {
        Map<String, T> fresh = new ConcurrentHashMap<>();
        String version = api.list(path, query, item -> {
            T object = parse.apply(item);
            fresh.put(object.meta().key(), object);
        });
        cache = fresh;
        synced.complete(null);
        changed.run();
        return version;
    }

    /**
     * Watches from {@code version} until the watch ends; returns the last version seen (to watch on from).
     *
     * @throws Gone when the version is too old
     */
    private String watch(String version) throws IOException, InterruptedException {
        Events events = new Events(version);
        current = events;
        Duration timeout = Duration.ofSeconds(ThreadLocalRandom.current().nextLong(300, 600));
        // The liveness budget of an open watch (two pings) bounds its opening too, at most the connect timeout.
        Duration openWithin = ping.multipliedBy(2).compareTo(ApiClient.CONNECT_TIMEOUT) < 0 ? ping.multipliedBy(2)
                : ApiClient.CONNECT_TIMEOUT;
        ApiClient.Watch ws;
        try {
            ws = api.watch(path, query, version, timeout, openWithin, events);
        } catch (ApiClient.Refused e) {
            if (e.status() == 410) {
                throw new Gone();
            }
            throw refused(e.status(), e.body());
        }
        events.opened(ws);
        if (stopped || relist) {
            events.abort("stopped or listing again");
        }
        watching = true;
        error = null;
        long opened = System.nanoTime();
        try {
            while (true) {
                if (events.messages > 0 || System.nanoTime() - opened > TimeUnit.SECONDS.toNanos(1)) {
                    failures = 0; // it works again
                }
                try {
                    events.end.get(ping.toMillis(), TimeUnit.MILLISECONDS);
                    if (events.closeCode != ApiClient.NORMAL_CLOSURE) {
                        throw new StreamEnded("the watch's connection broke (WebSocket close "
                                + events.closeCode + ")", null, false);
                    }
                    if (System.nanoTime() - opened < TimeUnit.SECONDS.toNanos(1) && events.messages == 0) {
                        // The server closes at once what it cannot serve; watching again at once would spin.
                        throw new StreamEnded("the watch was closed as it opened", null, true);
                    }
                    failures = 0;
                    return events.version;
                } catch (TimeoutException e) {
                    if (System.nanoTime() - events.heard > 2 * ping.toNanos()) {
                        throw new StreamEnded("the watch was silent for " + 2 * ping.toMillis()
                                + " ms (no event, no pong)", null, false);
                    }
                    ws.ping();
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof Gone gone) {
                        throw gone;
                    }
                    if (relist && !stopped) {
                        return events.version;
                    }
                    if (e.getCause() instanceof ApiClient.ApiException api) {
                        throw api;
                    }
                    throw new StreamEnded("the watch broke: " + e.getCause(), e.getCause(), false);
                }
            }
        } finally {
            current = null;
            watching = false;
            ws.abort();
        }
    }

    /**
     * A watch the API answered with {@code status} instead of switching to a WebSocket, saying what it said (a
     * {@code Status} object's message: a missing {@code watch} permission, say) and, for answers that mean the upgrade
     * itself was not taken, what to look at.
     */
    private ApiClient.ApiException refused(int status, String text) {
        String said = "";
        if (text != null && !text.isBlank()) {
            try {
                said = api.parse(text).path("message").asText("");
            } catch (IOException | RuntimeException notJson) {
                said = "";
            }
        }
        boolean upgrade = status == 400 || status == 404 || status == 405 || status == 426 || status == 501;
        return new ApiClient.ApiException("watch " + path + ": HTTP " + status + (said.isEmpty() ? "" : ": " + said)
                + (upgrade ? " (the watch is a WebSocket: does a proxy in front of the API server pass upgrades?)"
                        : ""), status);
    }

    /** The watch's messages: events applied to the cache as they come, on the API client's event loop. */
    private final class Events implements ApiClient.WatchListener {
        final CompletableFuture<Void> end = new CompletableFuture<>();
        volatile String version;
        volatile long heard = System.nanoTime();
        volatile int messages;
        volatile int closeCode = ApiClient.NORMAL_CLOSURE;
        private volatile ApiClient.Watch ws;

        Events(String version) {
            this.version = version;
        }

        /** The watch is open: an abort from now on drops it (and one that came before does so now). */
        void opened(ApiClient.Watch watch) {
            ws = watch;
            if (end.isDone()) {
                watch.abort();
            }
        }

        /** Ends the watch from this side: the connection is dropped, the watching thread woken. */
        void abort(String why) {
            end.completeExceptionally(new IOException(why));
            ApiClient.Watch open = ws;
            if (open != null) {
                open.abort();
            }
        }

        @Override
        public void onText(ApiClient.Watch watch, String message) {
            heard = System.nanoTime();
            messages++;
            try {
                apply(api.parse(message));
            } catch (IOException | RuntimeException e) {
                end.completeExceptionally(e instanceof Gone || e instanceof IOException ? e
                        : new IOException("a watch event that cannot be read: " + e.getMessage(), e));
                watch.abort();
            }
        }

        @Override
        public void onPong(ApiClient.Watch watch) {
            heard = System.nanoTime();
        }

        @Override
        public void onClose(ApiClient.Watch watch, int statusCode) {
            closeCode = statusCode;
            end.complete(null);
        }

        @Override
        public void onError(ApiClient.Watch watch, Throwable error) {
            end.completeExceptionally(error);
        }

        private void apply(JsonNode event) throws IOException {
            String type = event.path("type").asText("");
            JsonNode object = event.path("object");
            switch (type) {
                case "ADDED", "MODIFIED" -> {
                    T parsed = parse.apply(object);
                    T old = cache.put(parsed.meta().key(), parsed);
                    // Most updates (a pod's conditions, its containers' states) change nothing the mesh reads: the
                    // cache takes the new version, and no snapshot is rebuilt for them.
                    if (old == null || !old.equals(parsed.atVersion(old.meta().resourceVersion()))) {
                        changes.incrementAndGet();
                        changed.run();
                    }
                }
                case "DELETED" -> {
                    if (cache.remove(ApiObjects.meta(object).key()) != null) {
                        changes.incrementAndGet();
                        changed.run();
                    }
                }
                case "BOOKMARK" -> {
                    // Only the version moves on.
                }
                case "ERROR" -> {
                    int code = object.path("code").asInt(0);
                    if (code == 410) {
                        throw new Gone();
                    }
                    throw new ApiClient.ApiException(what + ": the watch ended with an error: HTTP " + code + ": "
                            + object.path("message").asText(""), code);
                }
                default -> throw new IOException("a watch event of unknown type '" + type + "'");
            }
            String v = ApiObjects.meta(object).resourceVersion();
            if (v != null) {
                version = v;
            }
        }
    }

    /** A watch that was open and ended other than by the server's timeout. */
    private static final class StreamEnded extends IOException {
        private final boolean atOnce;

        /** @param atOnce closed by the server as it opened (reported when it happens twice in a row) */
        StreamEnded(String message, Throwable cause, boolean atOnce) {
            super(message, cause);
            this.atOnce = atOnce;
        }

        boolean report(int failures) {
            return atOnce && failures > 1;
        }
    }

    /** The version asked for is older than the API keeps: list again. */
    private static final class Gone extends IOException {
        Gone() {
            super("410 Gone: the resource version is too old");
        }
    }

    /** The versions of the cached objects by uid (objects without a uid left out). */
    Map<String, String> versions() {
        Map<String, String> out = new HashMap<>();
        cache.values().forEach(o -> putVersion(out, o.meta()));
        return out;
    }

    /** Puts {@code meta}'s resource version under its uid into {@code versions}; an object without a uid is left out. */
    static void putVersion(Map<String, String> versions, ApiObjects.Meta meta) {
        if (meta.uid() != null) {
            versions.put(meta.uid(), String.valueOf(meta.resourceVersion()));
        }
    }
}
