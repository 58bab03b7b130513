package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.bench.load.BulkResult;
import io.nodemesh.bench.load.ChurnResult;
import io.nodemesh.bench.load.FixedRateResult;
import org.junit.jupiter.api.Test;

/** The load tools' JSON lines as captured from a real matrix run. */
class ToolOutputTest {

    @Test
    void readsAFixedRateResult() {
        FixedRateResult r = ToolOutput.fixedRate(Captured.read("fixed-rate-2c-nodemesh.txt"));

        assertThat(r.connections()).isEqualTo(2);
        assertThat(r.requests()).isEqualTo(3000);
        assertThat(r.warmupSeconds()).isEqualTo(1.0);
        assertThat(r.latency().p50Us()).isEqualTo(160);
        assertThat(r.latency().p999Us()).isEqualTo(10263);
        assertThat(r.latency().isOrdered()).isTrue();
    }

    @Test
    void readsABulkAndAChurnResult() {
        BulkResult b = ToolOutput.bulk(Captured.read("bulk-8-haproxy.txt"));
        ChurnResult c = ToolOutput.churn(Captured.read("churn-4-haproxy.txt"));

        assertThat(b.streams()).isEqualTo(8);
        assertThat(b.gbps()).isBetween(5.769, 5.770);
        assertThat(b.perStreamGbps()).hasSize(8);
        assertThat(c.connections()).isEqualTo(1506);
        assertThat(c.latency().p99Us()).isEqualTo(80639);
    }

    @Test
    void takesTheLastJsonLineAfterOtherOutput() {
        String out = "WARNING: something from the JVM\n{\"event\":\"listening\"}\n" + Captured.read("churn-4-haproxy.txt");

        assertThat(ToolOutput.churn(out).threads()).isEqualTo(4);
    }

    @Test
    void namesWhatCameInsteadOfAResult() {
        assertThatThrownBy(() -> ToolOutput.fixedRate("Exception in thread main\n"))
                .hasMessageContaining("printed no JSON result").hasMessageContaining("Exception in thread main");
        assertThatThrownBy(() -> ToolOutput.fixedRate(Captured.read("bulk-8-haproxy.txt")))
                .hasMessageContaining("expected a fixed-rate result");
    }
}
