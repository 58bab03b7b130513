package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.ConnectException;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/** The fixed-rate loop against a fake clock: coordinated-omission correction, warm-up, bounds, errors. */
class PacedConnectionTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long US = TimeUnit.MICROSECONDS.toNanos(1);

    /** Time moves only when the code under test sleeps or a fake exchange takes time. */
    static final class FakeClock implements PacingClock {
        long now;

        @Override
        public long nanoTime() {
            return now;
        }

        @Override
        public void sleepUntil(long deadline) {
            now = Math.max(now, deadline);
        }
    }

    /** Each exchange takes 100 µs, except exchange number {@code stallAt} (0-based), which takes 200 ms. */
    static final class FakeTripper implements RoundTripper {
        final FakeClock clock;
        final long stallAt;
        final long failFrom;
        long calls;
        int disconnects;

        FakeTripper(FakeClock clock, long stallAt, long failFrom) {
            this.clock = clock;
            this.stallAt = stallAt;
            this.failFrom = failFrom;
        }

        @Override
        public void roundTrip() throws IOException {
            long call = calls++;
            if (call >= failFrom) {
                throw new ConnectException("Connection refused");
            }
            clock.now += call == stallAt ? 200 * MS : 100 * US;
        }

        @Override
        public void disconnect() {
            disconnects++;
        }
    }

    @Test
    void stalledResponseChargesTheQueuedRequestsInTheCorrectedHistogramOnly() {
        FakeClock clock = new FakeClock();
        FakeTripper tripper = new FakeTripper(clock, 500, Long.MAX_VALUE);
        // 1 request per ms for 1 s; the first 100 ms are warm-up.
        PacedConnection connection = new PacedConnection(tripper, clock, 0, MS, 100 * MS, 1000 * MS, Long.MAX_VALUE);

        connection.run();

        Histogram corrected = connection.recorder().corrected();
        Histogram service = connection.recorder().service();
        assertThat(connection.attempts()).isEqualTo(1000);
        assertThat(corrected.getTotalCount()).isEqualTo(900);
        assertThat(service.getTotalCount()).isEqualTo(900);
        // Sent when due, only the stalled exchange itself is slow.
        assertThat(service.getCountBetweenValues(100_000, Histograms.HIGHEST_TRACKABLE_MICROS)).isEqualTo(1);
        assertThat(service.getValueAtPercentile(99.0)).isLessThan(200);
        // Request 500 (due at 500 ms) completes at 700 ms; request j > 500 then waits in line and
        // completes at 700 + (j - 500) · 0.1 ms, i.e. 650 - 0.9 j ms after it was due: at least
        // 100 ms for j = 501..611. With the stalled one that is 112 requests at 100 ms or more.
        assertThat(corrected.getCountBetweenValues(100_000, Histograms.HIGHEST_TRACKABLE_MICROS)).isEqualTo(112);
        assertThat(corrected.getMaxValue()).isBetween(200_000L, 200_300L);
        assertThat(corrected.getValueAtPercentile(99.0)).isGreaterThan(100_000);
        assertThat(LatencySummary.of(corrected).isOrdered()).isTrue();
    }

    @Test
    void warmupRequestsAreSentButNotRecorded() {
        FakeClock clock = new FakeClock();
        FakeTripper tripper = new FakeTripper(clock, -1, Long.MAX_VALUE);
        PacedConnection connection = new PacedConnection(tripper, clock, 0, 10 * MS, 500 * MS, 1000 * MS, Long.MAX_VALUE);

        connection.run();

        assertThat(connection.attempts()).isEqualTo(100);
        assertThat(connection.recorder().corrected().getTotalCount()).isEqualTo(50);
        assertThat(connection.recorder().corrected().getMaxValue()).isEqualTo(100);
    }

    @Test
    void stopsAtTheRequestLimit() {
        FakeClock clock = new FakeClock();
        FakeTripper tripper = new FakeTripper(clock, -1, Long.MAX_VALUE);
        PacedConnection connection = new PacedConnection(tripper, clock, 0, MS, 0, 1000 * MS, 10);

        connection.run();

        assertThat(connection.attempts()).isEqualTo(10);
        assertThat(connection.recorder().corrected().getTotalCount()).isEqualTo(10);
    }

    @Test
    void failedExchangesAreCountedByKindAndReconnectOnTheNextDueRequest() {
        FakeClock clock = new FakeClock();
        FakeTripper tripper = new FakeTripper(clock, -1, 30);
        PacedConnection connection = new PacedConnection(tripper, clock, 0, MS, 0, 100 * MS, Long.MAX_VALUE);

        connection.run();

        assertThat(connection.attempts()).isEqualTo(100);
        assertThat(connection.recorder().corrected().getTotalCount()).isEqualTo(30);
        assertThat(connection.errors().total()).isEqualTo(70);
        assertThat(ErrorCounts.merge(java.util.List.of(connection.errors()))).containsEntry("refused", 70L);
        assertThat(tripper.disconnects).isEqualTo(71); // once per failure, once at the end
    }
}
