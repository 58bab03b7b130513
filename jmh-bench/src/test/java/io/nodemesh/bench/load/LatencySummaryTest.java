package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/** Percentile summaries, their JSON form and the encoded histogram. */
class LatencySummaryTest {

    private static Histogram oneToThousandMicros() {
        Histogram h = Histograms.newLatencyHistogram();
        for (int us = 1; us <= 1000; us++) {
            Histograms.recordNanos(h, us * 1_000L + 999);
        }
        return h;
    }

    @Test
    void summarisesPercentilesInMicroseconds() {
        LatencySummary s = LatencySummary.of(oneToThousandMicros());

        assertThat(s.count()).isEqualTo(1000);
        assertThat(s.minUs()).isEqualTo(1);
        assertThat(s.p50Us()).isEqualTo(500);
        assertThat(s.p90Us()).isEqualTo(900);
        assertThat(s.p99Us()).isEqualTo(990);
        assertThat(s.p999Us()).isEqualTo(999);
        assertThat(s.maxUs()).isEqualTo(1000);
        assertThat(s.meanUs()).isCloseTo(500.5, org.assertj.core.data.Offset.offset(0.5));
        assertThat(s.isOrdered()).isTrue();
    }

    @Test
    void emptyHistogramGivesTheEmptySummary() {
        assertThat(LatencySummary.of(Histograms.newLatencyHistogram())).isEqualTo(LatencySummary.EMPTY);
    }

    @Test
    void jsonRoundTrip() {
        LatencySummary s = LatencySummary.of(oneToThousandMicros());

        String json = s.toJson();

        assertThat(json).isEqualTo("{\"count\":1000,\"minUs\":1,\"p50Us\":500,\"p90Us\":900,\"p99Us\":990,"
                + "\"p999Us\":999,\"maxUs\":1000,\"meanUs\":" + s.meanUs() + "}");
        assertThat(LatencySummary.fromJson(json)).isEqualTo(s);
    }

    @Test
    void valuesBeyondOneMinuteAreClampedNotLost() {
        Histogram h = Histograms.newLatencyHistogram();
        Histograms.recordNanos(h, 3_600_000_000_000L);
        Histograms.recordNanos(h, -5);

        assertThat(h.getTotalCount()).isEqualTo(2);
        assertThat(h.getMaxValue()).isGreaterThanOrEqualTo(Histograms.HIGHEST_TRACKABLE_MICROS);
        assertThat(h.getMinValue()).isZero();
    }

    @Test
    void encodedHistogramDecodesToTheSameCounts() {
        Histogram h = oneToThousandMicros();

        Histogram back = Histograms.decode(Histograms.encode(h));

        assertThat(back).isEqualTo(h);
        assertThatThrownBy(() -> Histograms.decode("bm90IGEgaGlzdG9ncmFt"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("HdrHistogram");
    }

    @Test
    void malformedJsonIsRejectedWithTheTypeName() {
        assertThatThrownBy(() -> LatencySummary.fromJson("{\"count\":"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("LatencySummary");
    }
}
