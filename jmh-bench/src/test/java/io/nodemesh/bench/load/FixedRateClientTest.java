package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/** The fixed-rate client against a real LoadServer on loopback (no timing assertions). */
class FixedRateClientTest {

    private static final InetSocketAddress ANY_LOOPBACK = new InetSocketAddress("127.0.0.1", 0);

    @Test
    void measuresKeepAliveRequestsWithoutErrors() throws Exception {
        try (LoadServer server = LoadServer.start(LoadServer.Config.rr(ANY_LOOPBACK))) {
            FixedRateClient.Config config = FixedRateClient.Config.of(server.localAddress(), 4,
                    Duration.ofMillis(800), Duration.ofMillis(200)).withRate(500);

            FixedRateResult result = FixedRateClient.run(config);

            assertThat(result.errors()).isZero();
            assertThat(result.errorKinds()).isEmpty();
            assertThat(result.requests()).isPositive();
            // never more than the schedule holds: 500/s over the 0.8 s measured, one per connection of slack
            assertThat(result.requests()).isLessThanOrEqualTo(400 + 4);
            assertThat(result.latency().count()).isEqualTo(result.requests());
            assertThat(result.serviceLatency().count()).isEqualTo(result.requests());
            assertThat(result.latency().isOrdered()).isTrue();
            assertThat(result.serviceLatency().isOrdered()).isTrue();
            // measured from the intended time, never before the actual send
            assertThat(result.latency().p50Us()).isGreaterThanOrEqualTo(result.serviceLatency().p50Us());
            assertThat(result.achievedRate()).isPositive();
            assertThat(Histograms.decode(result.histogram()).getTotalCount()).isEqualTo(result.requests());
            assertThat(FixedRateResult.fromJson(result.toJson())).isEqualTo(result);
        }
    }

    @Test
    void respectsTheRequestLimit() throws Exception {
        try (LoadServer server = LoadServer.start(LoadServer.Config.rr(ANY_LOOPBACK))) {
            FixedRateClient.Config config = FixedRateClient.Config.of(server.localAddress(), 2,
                    Duration.ofSeconds(5), Duration.ZERO).withRate(2000).withMaxRequests(50);

            FixedRateResult result = FixedRateClient.run(config);

            assertThat(result.requests()).isEqualTo(50);
            assertThat(result.errors()).isZero();
        }
    }

    @Test
    void aServerStallShowsUpInTheCorrectedLatencyOfTheQueuedRequests() throws Exception {
        LoadServer.Config stalling = LoadServer.Config.rr(ANY_LOOPBACK).withStallOnce(50, Duration.ofMillis(200));
        try (LoadServer server = LoadServer.start(stalling)) {
            // One connection at 500/s: while response 50 is held for 200 ms, about 100 requests come due.
            FixedRateClient.Config config = FixedRateClient.Config.of(server.localAddress(), 1,
                    Duration.ofMillis(1200), Duration.ZERO).withRate(500);

            FixedRateResult result = FixedRateClient.run(config);

            assertThat(result.errors()).isZero();
            Histogram corrected = Histograms.decode(result.histogram());
            assertThat(result.latency().maxUs()).isGreaterThanOrEqualTo(200_000);
            // Requests due in the first 100 ms of the stall cannot be sent before it ends, 200 ms
            // after the stalled one was due: each waited at least 100 ms (49 of them at 2 ms spacing).
            long queued = corrected.getCountBetweenValues(100_000, Histograms.HIGHEST_TRACKABLE_MICROS);
            assertThat(queued).isGreaterThanOrEqualTo(45);
            assertThat(result.latency().p90Us()).isGreaterThanOrEqualTo(result.serviceLatency().p90Us());
        }
    }

    @Test
    void absentServerCountsRefusedConnectionsAndReturns() throws Exception {
        FixedRateClient.Config config = FixedRateClient.Config.of(closedPort(), 2,
                Duration.ofMillis(300), Duration.ZERO).withRate(100);

        FixedRateResult result = FixedRateClient.run(config);

        assertThat(result.requests()).isZero();
        assertThat(result.errors()).isPositive();
        assertThat(result.errorKinds()).containsKey("refused");
        assertThat(result.latency()).isEqualTo(LatencySummary.EMPTY);
    }

    /** A loopback port nobody listens on (bound once, then released). */
    static InetSocketAddress closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return new InetSocketAddress("127.0.0.1", s.getLocalPort());
        }
    }
}
