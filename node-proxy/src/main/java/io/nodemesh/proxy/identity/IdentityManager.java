package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.SpiffeId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The certificates of the workloads this node runs: one per service account that has a captured pod here, issued as
 * soon as the first such pod is captured, renewed at half its remaining life, dropped when the last such pod leaves.
 * It never holds a certificate for an account with no pod on this node, however it is asked.
 *
 * <p>A failed issue is retried after 1 s, doubling up to 5 min; meanwhile the certificate in use stays in use until it
 * expires. Each certificate comes with its {@link MeshTls} (the SSL contexts), built here, off the event loops.
 *
 * <p>One thread ({@code nodemesh-identity}) issues and schedules; the certificate source may block it. The event
 * loops only read: {@link #current} is a map lookup, {@link #ready} a future.
 */
public final class IdentityManager implements AutoCloseable, WorkloadCertificates {

    private static final Logger log = LoggerFactory.getLogger(IdentityManager.class);

    /** Istio's and the design's default workload certificate lifetime. */
    public static final Duration DEFAULT_LIFETIME = Duration.ofHours(24);

    private final CertificateSource source;
    private final Duration lifetime;
    private final Duration firstRetry;
    private final Duration maxRetry;
    private final Clock clock;
    private final ScheduledExecutorService thread;
    // Written on the identity thread only; read from anywhere.
    private final Map<SpiffeId, Entry> entries = new ConcurrentHashMap<>();

    private IdentityManager(Builder b) {
        this.source = b.source;
        this.lifetime = b.lifetime;
        this.firstRetry = b.firstRetry;
        this.maxRetry = b.maxRetry;
        this.clock = b.clock;
        this.thread = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform()
                .name("nodemesh-identity").daemon(true).unstarted(r));
    }

    /** A manager issuing from {@code source}; see the builder for the defaults. */
    public static Builder builder(CertificateSource source) {
        return new Builder(source);
    }

    /** The trust domain of the identities it holds. */
    public String trustDomain() {
        return source.trustDomain();
    }

    /**
     * The service accounts with a captured pod on this node in {@code snapshot} (this node's meshed pods whose network
     * namespace is known) become the identities held; see {@link #podsChanged(Set)}.
     */
    public void podsChanged(MeshSnapshot snapshot) {
        Set<SpiffeId> here = new HashSet<>();
        for (PodSpec pod : snapshot.pods().values()) {
            if (pod.capture() && pod.netns() != null) {
                here.add(new SpiffeId(source.trustDomain(), pod.namespace(), pod.serviceAccount()));
            }
        }
        podsChanged(here);
    }

    /**
     * Holds certificates for exactly {@code here}: issues for the new ones at once and drops the others (whoever waits
     * on a dropped one is told). Returns at once; the work happens on the identity thread, in call order.
     */
    public void podsChanged(Set<SpiffeId> here) {
        Set<SpiffeId> wanted = Set.copyOf(here);
        thread.execute(() -> {
            for (SpiffeId id : List.copyOf(entries.keySet())) {
                if (!wanted.contains(id)) {
                    drop(entries.remove(id));
                }
            }
            for (SpiffeId id : wanted) {
                if (!entries.containsKey(id)) {
                    Entry e = new Entry(id);
                    entries.put(id, e);
                    attempt(e);
                }
            }
        });
    }

    /** The TLS of {@code id}'s certificate if one valid now is held, else null. Never blocks. */
    @Override
    public MeshTls current(SpiffeId id) {
        Entry e = entries.get(id);
        MeshTls tls = e == null ? null : e.tls;
        return tls == null || tls.certificate().expiredAt(clock.instant()) ? null : tls;
    }

    /**
     * Completes with {@code id}'s TLS as soon as a valid certificate is held (at once if one is). Fails with an
     * {@link IdentityException} if {@code id} has no captured pod on this node, or when its last pod leaves before
     * then; it does not time out by itself.
     */
    @Override
    public CompletableFuture<MeshTls> ready(SpiffeId id) {
        MeshTls now = current(id);
        if (now != null) {
            return CompletableFuture.completedFuture(now);
        }
        CompletableFuture<MeshTls> f = new CompletableFuture<>();
        thread.execute(() -> {
            Entry e = entries.get(id);
            MeshTls tls = current(id);
            if (e == null) {
                f.completeExceptionally(new IdentityException("no certificate for " + id
                        + ": it has no captured pod on this node"));
            } else if (tls != null) {
                f.complete(tls);
            } else {
                e.waiters.add(f);
            }
        });
        return f;
    }

    /** The identities held, by id, with their certificates' state. */
    public List<CertificateStatus> status() {
        List<CertificateStatus> out = new ArrayList<>();
        for (Entry e : entries.values()) {
            out.add(e.status);
        }
        out.sort(Comparator.comparing(s -> s.identity().toString()));
        return out;
    }

    /** Stops the identity thread; certificates handed out stay usable. */
    @Override
    public void close() {
        thread.shutdownNow();
    }

    // ---- on the identity thread ----

    private void attempt(Entry e) {
        e.task = null;
        Instant start = clock.instant();
        try {
            MeshTls tls = MeshTls.of(source.issue(e.id, lifetime));
            boolean renewal = e.tls != null;
            e.renewals += renewal ? 1 : 0;
            e.failures = 0;
            e.lastError = null;
            e.retry = null;
            Instant end = tls.certificate().notAfter();
            Instant renewAt = start.plus(Duration.between(start, end).dividedBy(2));
            // The status first: whoever is handed the new certificate (current, ready) then reads its status too. The
            // other way round, status() could still say ISSUING with the certificate already in use.
            schedule(e, tls, renewAt);
            e.tls = tls;
            for (CompletableFuture<MeshTls> w : e.waiters) {
                w.complete(tls);
            }
            e.waiters.clear();
            log.info("{} certificate for {} (serial {}, until {})", renewal ? "renewed" : "issued", e.id,
                    tls.certificate().serial().toString(16), end);
        } catch (IdentityException | RuntimeException ex) {
            e.failures++;
            e.lastError = ex.getMessage();
            e.retry = e.retry == null ? firstRetry : min(e.retry.multipliedBy(2), maxRetry);
            schedule(e, e.tls, clock.instant().plus(e.retry));
            log.warn("cannot issue a certificate for {} (attempt {}, next in {}): {}", e.id, e.failures, e.retry,
                    ex.getMessage());
        }
    }

    /** The next attempt for {@code e} at {@code at}, published in its status with {@code shown} as its certificate. */
    private void schedule(Entry e, MeshTls shown, Instant at) {
        long delay = Math.max(0, Duration.between(clock.instant(), at).toMillis());
        e.task = thread.schedule(() -> {
            if (entries.get(e.id) == e) {
                attempt(e);
            }
        }, delay, TimeUnit.MILLISECONDS);
        e.publish(shown, at);
    }

    private void drop(Entry e) {
        if (e.task != null) {
            e.task.cancel(false);
        }
        for (CompletableFuture<MeshTls> w : e.waiters) {
            w.completeExceptionally(new IdentityException("no certificate for " + e.id
                    + ": its last pod left this node"));
        }
        log.info("dropped the certificate of {}: no captured pod of it on this node", e.id);
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    /** One identity held; its fields are the identity thread's, {@link #tls} and {@link #status} are read anywhere. */
    private static final class Entry {
        final SpiffeId id;
        final List<CompletableFuture<MeshTls>> waiters = new ArrayList<>();
        volatile MeshTls tls;
        volatile CertificateStatus status;
        int renewals;
        int failures;
        String lastError;
        Duration retry;
        ScheduledFuture<?> task;

        Entry(SpiffeId id) {
            this.id = id;
            this.status = new CertificateStatus(id, null, null, null, 0, 0, null, null);
        }

        void publish(MeshTls shown, Instant nextAttempt) {
            IssuedCertificate c = shown == null ? null : shown.certificate();
            status = new CertificateStatus(id, c == null ? null : c.serial(), c == null ? null : c.notBefore(),
                    c == null ? null : c.notAfter(), renewals, failures, lastError, nextAttempt);
        }
    }

    /** Settings of an {@link IdentityManager}; only the certificate source is required. */
    public static final class Builder {
        private final CertificateSource source;
        private Duration lifetime = DEFAULT_LIFETIME;
        private Duration firstRetry = Duration.ofSeconds(1);
        private Duration maxRetry = Duration.ofMinutes(5);
        private Clock clock = Clock.systemUTC();

        private Builder(CertificateSource source) {
            this.source = Objects.requireNonNull(source, "source");
        }

        /** The lifetime asked for each certificate (default 24 h; the source may cap it). */
        public Builder lifetime(Duration value) {
            if (value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException("a certificate lifetime must be positive, not " + value);
            }
            this.lifetime = value;
            return this;
        }

        /** The wait after a first failure, doubled after each further one up to {@code max} (default 1 s, 5 min). */
        public Builder retry(Duration first, Duration max) {
            if (first.isNegative() || first.isZero() || max.compareTo(first) < 0) {
                throw new IllegalArgumentException("retry waits must be positive, first <= max: " + first + ", " + max);
            }
            this.firstRetry = first;
            this.maxRetry = max;
            return this;
        }

        /** What the manager takes as now: when a certificate has expired, when to renew (default: the system's). */
        public Builder clock(Clock value) {
            this.clock = Objects.requireNonNull(value, "clock");
            return this;
        }

        public IdentityManager build() {
            return new IdentityManager(this);
        }
    }
}
