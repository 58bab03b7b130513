package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Bulk push to a sink and pull from a source on loopback (no timing assertions). */
class BulkClientTest {

    private static LoadServer.Config server(ServerMode mode) {
        return LoadServer.Config.rr(new InetSocketAddress("127.0.0.1", 0)).withMode(mode);
    }

    @Test
    void pushesToASinkOnEveryStream() throws Exception {
        try (LoadServer sink = LoadServer.start(server(ServerMode.SINK))) {
            BulkResult result = BulkClient.run(BulkClient.Config.push(sink.localAddress(), 2,
                    Duration.ofMillis(500), Duration.ofMillis(100)));

            assertThat(result.errors()).isZero();
            assertThat(result.bytes()).isPositive();
            assertThat(result.perStreamGbps()).hasSize(2).allSatisfy(g -> assertThat(g).isPositive());
            assertThat(result.gbps()).isPositive();
            // the sink has read everything the client counted (and the warm-up's bytes besides)
            assertThat(sink.sinkBytes()).isGreaterThanOrEqualTo(result.bytes());
            assertThat(BulkResult.fromJson(result.toJson())).isEqualTo(result);
        }
    }

    @Test
    void pullsFromASource() throws Exception {
        try (LoadServer source = LoadServer.start(server(ServerMode.SOURCE))) {
            BulkResult result = BulkClient.run(BulkClient.Config.push(source.localAddress(), 1,
                    Duration.ofMillis(400), Duration.ofMillis(100)).withDirection(BulkClient.Direction.PULL));

            assertThat(result.errors()).isZero();
            assertThat(result.bytes()).isPositive();
            assertThat(result.perStreamGbps()).hasSize(1);
        }
    }

    @Test
    void absentServerIsAnErrorPerStream() throws Exception {
        BulkResult result = BulkClient.run(BulkClient.Config.push(FixedRateClientTest.closedPort(), 3,
                Duration.ofMillis(200), Duration.ZERO));

        assertThat(result.errors()).isEqualTo(3);
        assertThat(result.errorKinds()).containsEntry("refused", 3L);
        assertThat(result.bytes()).isZero();
        assertThat(result.gbps()).isZero();
    }
}
