package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class WrkOutputParserTest {

    @Test
    void readsThroughputAndPercentilesOfACleanRun() {
        // wrk -t1 -c16 -d5s --latency through HAProxy, from a real harness run.
        WrkResult r = WrkOutputParser.parse(Captured.read("wrk-haproxy-16c.txt"));

        assertThat(r.requests()).isEqualTo(202_276);
        assertThat(r.seconds()).isCloseTo(5.00, within(1e-9));
        assertThat(r.requestsPerSecond()).isCloseTo(40_441.06, within(1e-6));
        assertThat(r.p50Micros()).isCloseTo(322, within(1e-9));
        assertThat(r.p75Micros()).isCloseTo(431, within(1e-9));
        assertThat(r.p90Micros()).isCloseTo(568, within(1e-9));
        assertThat(r.p99Micros()).isCloseTo(1_980, within(1e-9)); // printed as 1.98ms
        assertThat(r.maxMicros()).isCloseTo(8_940, within(1e-9));
        assertThat(r.clean()).isTrue();
    }

    @Test
    void countsNon2xxResponses() {
        WrkResult r = WrkOutputParser.parse(Captured.read("wrk-404.txt"));

        assertThat(r.non2xx()).isEqualTo(2_581);
        assertThat(r.requests()).isEqualTo(2_581);
        assertThat(r.seconds()).isCloseTo(2.10, within(1e-9));
        assertThat(r.p99Micros()).isCloseTo(16_550, within(1e-9));
        assertThat(r.clean()).isFalse();
    }

    @Test
    void sumsSocketErrors() {
        // A server that resets every 50th request: wrk reports read errors.
        WrkResult r = WrkOutputParser.parse(Captured.read("wrk-resets.txt"));

        assertThat(r.socketErrors()).isEqualTo(1_030);
        assertThat(r.non2xx()).isZero();
        assertThat(r.p50Micros()).isCloseTo(77, within(1e-9));
        assertThat(r.maxMicros()).isCloseTo(89_260, within(1e-9));
        assertThat(r.clean()).isFalse();
    }

    @Test
    void refusesOutputWithoutAReport() {
        // What wrk prints when nothing listens: no figures at all.
        assertThatThrownBy(() -> WrkOutputParser.parse(Captured.read("wrk-refused.txt")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Latency")
                .hasMessageContaining("Connection refused");
    }

    @Test
    void refusesOutputWithoutLatencyDistribution() {
        String withoutDistribution = Captured.read("wrk-haproxy-16c.txt").replaceAll("(?m)^\\s+\\d\\d%.*\\n", "");

        assertThatThrownBy(() -> WrkOutputParser.parse(withoutDistribution))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--latency");
    }

    @Test
    void convertsEveryTimeUnitWrkPrints() {
        assertThat(WrkOutputParser.micros("812.00us")).isEqualTo(812.0);
        assertThat(WrkOutputParser.micros("1.20ms")).isCloseTo(1_200.0, within(1e-9));
        assertThat(WrkOutputParser.micros("2.00s")).isEqualTo(2_000_000.0);
        assertThat(WrkOutputParser.micros("1.50m")).isEqualTo(90_000_000.0);
        assertThatThrownBy(() -> WrkOutputParser.micros("12.0xs")).hasMessageContaining("12.0xs");
    }
}
