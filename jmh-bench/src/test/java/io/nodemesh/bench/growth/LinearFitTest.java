package io.nodemesh.bench.growth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class LinearFitTest {

    @Test
    void exactLineIsRecovered() {
        LinearFit fit = LinearFit.of(List.of(0.0, 50.0, 100.0, 250.0, 500.0), List.of(80_000.0, 82_500.0, 85_000.0, 92_500.0, 105_000.0));
        assertThat(fit.slope()).isCloseTo(50.0, within(1e-9));
        assertThat(fit.intercept()).isCloseTo(80_000.0, within(1e-6));
        assertThat(fit.r2()).isCloseTo(1.0, within(1e-12));
        assertThat(fit.points()).isEqualTo(5);
    }

    @Test
    void noisyPointsGiveTheLeastSquaresLine() {
        // Means 1.5 and 4; Sxx = 5, Sxy = 10, Syy = 24 -> slope 2, intercept 4 - 2 * 1.5 = 1, R² = 100 / 120.
        LinearFit fit = LinearFit.of(List.of(0.0, 1.0, 2.0, 3.0), List.of(2.0, 2.0, 4.0, 8.0));
        assertThat(fit.slope()).isCloseTo(2.0, within(1e-12));
        assertThat(fit.intercept()).isCloseTo(1.0, within(1e-12));
        assertThat(fit.r2()).isCloseTo(100.0 / 120.0, within(1e-12));
    }

    @Test
    void flatDataHasZeroSlopeAndNoR2() {
        LinearFit fit = LinearFit.of(List.of(0.0, 10.0), List.of(7.0, 7.0));
        assertThat(fit.slope()).isZero();
        assertThat(fit.r2()).isNaN();
    }

    @Test
    void refusesWhatCannotBeFitted() {
        assertThatThrownBy(() -> LinearFit.of(List.of(5.0, 5.0), List.of(1.0, 2.0))).hasMessageContaining("two distinct x");
        assertThatThrownBy(() -> LinearFit.of(List.of(1.0), List.of(1.0, 2.0))).hasMessageContaining("as many x as y");
    }
}
