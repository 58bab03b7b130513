package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Connection churn against a real LoadServer on loopback, each way of closing (no timing assertions). */
class ChurnClientTest {

    @ParameterizedTest
    @EnumSource(CloseMode.class)
    void completesConnectionsWithoutErrors(CloseMode mode) throws Exception {
        try (LoadServer server = LoadServer.start(LoadServer.Config.rr(new InetSocketAddress("127.0.0.1", 0)))) {
            ChurnClient.Config config = ChurnClient.Config.of(server.localAddress(), 2,
                    Duration.ofMillis(500), Duration.ofMillis(100)).withCloseMode(mode).withMaxConnections(3000);

            ChurnResult result = ChurnClient.run(config);

            assertThat(result.errors()).isZero();
            assertThat(result.connections()).isPositive().isLessThanOrEqualTo(3000);
            assertThat(result.latency().count()).isEqualTo(result.connections());
            assertThat(result.latency().isOrdered()).isTrue();
            assertThat(result.connectionsPerSecond()).isPositive();
            assertThat(result.closeMode()).isEqualTo(mode);
            assertThat(ChurnResult.fromJson(result.toJson())).isEqualTo(result);
        }
    }

    @Test
    void absentServerCountsErrorsAndReturns() throws Exception {
        ChurnClient.Config config = ChurnClient.Config.of(FixedRateClientTest.closedPort(), 2,
                Duration.ofMillis(300), Duration.ZERO);

        ChurnResult result = ChurnClient.run(config);

        assertThat(result.connections()).isZero();
        assertThat(result.errors()).isPositive();
        assertThat(result.errorKinds()).containsOnlyKeys("refused");
    }
}
