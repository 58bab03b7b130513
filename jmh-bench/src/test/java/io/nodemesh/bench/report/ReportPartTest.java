package io.nodemesh.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

class ReportPartTest {

    @Test
    void noOnlyMeansEveryPartInRunOrder() {
        assertThat(ReportPart.parseOnly(null)).containsExactly(ReportPart.MICRO, ReportPart.TELEMETRY, ReportPart.ONOFF, ReportPart.MATRIX,
                ReportPart.GROWTH, ReportPart.E2E);
    }

    @Test
    void namedPartsRunInReportOrderWhateverOrderTheyWereGiven() {
        assertThat(ReportPart.parseOnly(List.of("e2e", "Micro ", "telemetry,micro"))).containsExactly(ReportPart.MICRO,
                ReportPart.TELEMETRY, ReportPart.E2E);
    }

    @Test
    void unknownNamesAreRejectedByNameWithTheKnownOnes() {
        assertThatThrownBy(() -> ReportPart.parseOnly(List.of("micro", "jmh", "matrixx")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("--only: unknown parts 'jmh', 'matrixx' (known: micro, telemetry, onoff, matrix, growth, e2e)");
        assertThatThrownBy(() -> ReportPart.parseOnly(List.of(",")))
                .hasMessageContaining("no part named");
    }
}
