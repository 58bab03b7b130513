package io.nodemesh.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The certificates' life on real time with short lifetimes: prefetch, renewal, back-off, drop. */
class IdentityManagerTest {

    private static final SpiffeId A = new SpiffeId("cluster.local", "pay", "payments");
    private static final SpiffeId B = new SpiffeId("cluster.local", "web", "frontend");
    private static final MeshCa CA = MeshCa.create("cluster.local", Duration.ofDays(1));

    private final RecordingSource source = new RecordingSource();
    private IdentityManager manager;

    @AfterEach
    void close() {
        if (manager != null) {
            manager.close();
        }
    }

    @Test
    void issuesForACapturedAccountAtOnceAndNeverForAnAbsentOne() throws Exception {
        manager = IdentityManager.builder(source).build();
        assertThat(manager.current(A)).isNull();
        manager.podsChanged(Set.of(A));

        MeshTls tls = manager.ready(A).get(5, TimeUnit.SECONDS);
        assertThat(tls.identity()).isEqualTo(A);
        assertThat(manager.current(A)).isSameAs(tls);
        assertThat(Duration.between(Instant.now(), tls.certificate().notAfter()))
                .isBetween(Duration.ofHours(23), Duration.ofHours(24));

        assertThat(manager.current(B)).isNull();
        assertThatThrownBy(() -> manager.ready(B).get(5, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .hasMessageContaining("no certificate for " + B + ": it has no captured pod on this node");
        assertThat(source.issuedFor()).containsExactly(A);
        assertThat(manager.status()).singleElement().satisfies(s -> {
            assertThat(s.identity()).isEqualTo(A);
            assertThat(s.serial()).isEqualTo(tls.certificate().serial());
            assertThat(s.state(Instant.now())).isEqualTo(CertificateStatus.State.VALID);
            assertThat(s.renewals()).isZero();
            assertThat(s.lastError()).isNull();
        });
    }

    @Test
    void renewsAtHalfLife() throws Exception {
        manager = IdentityManager.builder(source).lifetime(Duration.ofSeconds(4)).build();
        manager.podsChanged(Set.of(A));
        MeshTls first = manager.ready(A).get(5, TimeUnit.SECONDS);
        Instant issued = source.attempts.getFirst().at();

        await(() -> source.attempts.size() >= 2, Duration.ofSeconds(6));
        Duration toRenewal = Duration.between(issued, source.attempts.get(1).at());
        // Half of what was left when it was issued: 4 s minus the CA's truncation to whole seconds, halved.
        assertThat(toRenewal).isBetween(Duration.ofMillis(1400), Duration.ofMillis(2600));
        await(() -> manager.current(A) != first, Duration.ofSeconds(2));
        assertThat(manager.current(A).certificate().serial()).isNotEqualTo(first.certificate().serial());
        assertThat(manager.status().getFirst().renewals()).isEqualTo(1);
    }

    @Test
    void aFailingRenewalBacksOffDoublingAndKeepsTheOldCertificateUntilItExpires() throws Exception {
        manager = IdentityManager.builder(source).lifetime(Duration.ofSeconds(3))
                .retry(Duration.ofMillis(100), Duration.ofMillis(400)).build();
        manager.podsChanged(Set.of(A));
        MeshTls first = manager.ready(A).get(5, TimeUnit.SECONDS);
        source.failing = true;

        // The status, not the source's count: the source counts a failure as it throws, a moment before the manager
        // has taken it in and published it.
        await(() -> manager.status().getFirst().failures() >= 2, Duration.ofSeconds(4));
        assertThat(source.failures()).isGreaterThanOrEqualTo(2);
        assertThat(manager.current(A)).isSameAs(first); // still valid: still in use
        CertificateStatus failing = manager.status().getFirst();
        assertThat(failing.lastError()).isEqualTo("the CA is away");
        assertThat(failing.failures()).isGreaterThanOrEqualTo(2);
        assertThat(failing.state(Instant.now())).isEqualTo(CertificateStatus.State.VALID);

        await(() -> !Instant.now().isBefore(first.certificate().notAfter()), Duration.ofSeconds(4));
        assertThat(manager.current(A)).isNull(); // expired: no longer handed out
        assertThat(manager.status().getFirst().state(Instant.now())).isEqualTo(CertificateStatus.State.EXPIRED);

        await(() -> source.failures() >= 5, Duration.ofSeconds(4));
        List<Instant> failed = source.attempts.stream().filter(a -> a.failed).map(Attempt::at).toList();
        // 100, 200, 400, 400 ms apart (at least; a busy machine runs late, never early).
        long[] floors = {100, 200, 400, 400};
        for (int i = 0; i < floors.length; i++) {
            assertThat(Duration.between(failed.get(i), failed.get(i + 1)).toMillis()).as("gap " + i)
                    .isGreaterThanOrEqualTo(floors[i] - 5).isLessThan(floors[i] + 1000);
        }

        source.failing = false;
        MeshTls renewed = manager.ready(A).get(5, TimeUnit.SECONDS);
        assertThat(renewed).isNotSameAs(first);
        assertThat(manager.status().getFirst().lastError()).isNull();
        assertThat(manager.status().getFirst().failures()).isZero();
    }

    @Test
    void aCertificatePastItsEndOnTheManagersClockIsNoLongerHandedOut() throws Exception {
        MovableClock clock = new MovableClock();
        manager = IdentityManager.builder(source).clock(clock).build();
        manager.podsChanged(Set.of(A));
        MeshTls tls = manager.ready(A).get(5, TimeUnit.SECONDS);

        clock.moveTo(tls.certificate().notAfter().minusMillis(1));
        assertThat(manager.current(A)).isSameAs(tls);
        clock.moveTo(tls.certificate().notAfter());
        assertThat(manager.current(A)).isNull();
        assertThat(manager.status().getFirst().state(clock.instant())).isEqualTo(CertificateStatus.State.EXPIRED);
    }

    @Test
    void aWaiterGetsTheFirstCertificateOnceTheSourceRecovers() throws Exception {
        source.failing = true;
        manager = IdentityManager.builder(source).retry(Duration.ofMillis(50), Duration.ofMillis(50)).build();
        manager.podsChanged(Set.of(A));
        var waiting = manager.ready(A);
        await(() -> source.failures() >= 2, Duration.ofSeconds(4));
        assertThat(waiting).isNotDone();
        assertThat(manager.status().getFirst().state(Instant.now())).isEqualTo(CertificateStatus.State.ISSUING);
        source.failing = false;
        assertThat(waiting.get(5, TimeUnit.SECONDS).identity()).isEqualTo(A);
    }

    @Test
    void dropsAnAccountWhenItsLastPodLeavesAndStopsRenewingIt() throws Exception {
        manager = IdentityManager.builder(source).lifetime(Duration.ofSeconds(2)).build();
        Path netns = Path.of("/var/run/netns/x");
        PodSpec a1 = PodSpec.local("a1", "pay", "payments", List.of(ip("10.0.0.1")), netns);
        PodSpec a2 = PodSpec.local("a2", "pay", "payments", List.of(ip("10.0.0.2")), netns);
        PodSpec b = PodSpec.local("b", "web", "frontend", List.of(ip("10.0.0.3")), netns);
        PodSpec elsewhere = new PodSpec("c", "other", "remote", List.of(ip("10.0.1.1")), "node-2", Map.of(), null,
                true, false, List.of(), List.of(), List.of());
        PodSpec notFound = PodSpec.local("d", "lost", "lost", List.of(ip("10.0.0.4")), null);

        manager.podsChanged(snapshot(a1, a2, b, elsewhere, notFound));
        manager.ready(A).get(5, TimeUnit.SECONDS);
        manager.ready(B).get(5, TimeUnit.SECONDS);
        assertThat(manager.status()).extracting(CertificateStatus::identity).containsExactly(A, B);

        manager.podsChanged(snapshot(a2, b, elsewhere, notFound)); // one of A's two pods left: A stays
        manager.ready(A).get(5, TimeUnit.SECONDS);
        assertThat(manager.current(A)).isNotNull();

        manager.podsChanged(snapshot(b, elsewhere, notFound)); // the last one left
        await(() -> manager.current(A) == null, Duration.ofSeconds(2));
        assertThat(manager.status()).extracting(CertificateStatus::identity).containsExactly(B);
        long issuedForA = source.attempts.stream().filter(x -> x.id.equals(A)).count();
        Thread.sleep(2500); // past A's renewal time
        assertThat(source.attempts.stream().filter(x -> x.id.equals(A)).count()).isEqualTo(issuedForA);
        assertThat(source.attempts).extracting(Attempt::id).doesNotContain(
                new SpiffeId("cluster.local", "other", "remote"), new SpiffeId("cluster.local", "lost", "lost"));
    }

    @Test
    void someoneWaitingForADroppedAccountIsTold() throws Exception {
        source.failing = true;
        manager = IdentityManager.builder(source).build();
        manager.podsChanged(Set.of(A));
        var waiting = manager.ready(A);
        manager.podsChanged(Set.of());
        assertThatThrownBy(() -> waiting.get(5, TimeUnit.SECONDS))
                .hasMessageContaining("no certificate for " + A + ": its last pod left this node");
    }

    private static MeshSnapshot snapshot(PodSpec... pods) {
        return new MeshSnapshot(ProxySettings.defaults(), List.of(pods));
    }

    private static InetAddress ip(String text) {
        return InetAddress.ofLiteral(text);
    }

    private static void await(BooleanSupplier condition, Duration limit) throws InterruptedException {
        long end = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waited %s", limit).isLessThan(end);
            Thread.sleep(10);
        }
    }

    /** A clock a test sets. */
    private static final class MovableClock extends Clock {
        private volatile Instant now = Instant.now();

        void moveTo(Instant instant) {
            now = instant;
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }
    }

    /** One call of the source. */
    private record Attempt(SpiffeId id, Instant at, boolean failed) {
    }

    /** The mesh CA, told to fail on demand, remembering every call. */
    private static final class RecordingSource implements CertificateSource {
        final List<Attempt> attempts = new CopyOnWriteArrayList<>();
        volatile boolean failing;

        @Override
        public String trustDomain() {
            return CA.trustDomain();
        }

        @Override
        public IssuedCertificate issue(SpiffeId id, Duration lifetime) throws IdentityException {
            boolean fail = failing;
            attempts.add(new Attempt(id, Clock.systemUTC().instant(), fail));
            if (fail) {
                throw new IdentityException("the CA is away");
            }
            return CA.issue(id, lifetime);
        }

        List<SpiffeId> issuedFor() {
            return attempts.stream().map(Attempt::id).distinct().toList();
        }

        long failures() {
            return attempts.stream().filter(Attempt::failed).count();
        }
    }
}
