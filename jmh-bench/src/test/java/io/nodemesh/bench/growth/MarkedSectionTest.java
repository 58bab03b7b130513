package io.nodemesh.bench.growth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class MarkedSectionTest {

    @Test
    void replacesOnlyItsOwnSection() {
        String text = "# R\n\n<!-- e2e:begin -->\nold e2e\n<!-- e2e:end -->\n\n<!-- growth:begin -->\nold\n<!-- growth:end -->\ntail\n";
        String out = MarkedSection.replace(text, "growth", "new body\n");
        assertThat(out).isEqualTo("# R\n\n<!-- e2e:begin -->\nold e2e\n<!-- e2e:end -->\n\n<!-- growth:begin -->\nnew body\n<!-- growth:end -->\ntail\n");
    }

    @Test
    void appendsWhenAbsent() {
        assertThat(MarkedSection.replace("# R\n", "growth", "x")).isEqualTo("# R\n\n<!-- growth:begin -->\nx\n<!-- growth:end -->\n");
        assertThat(MarkedSection.replace("", "growth", "x")).isEqualTo("<!-- growth:begin -->\nx\n<!-- growth:end -->\n");
    }

    @Test
    void refusesDamagedMarkers() {
        assertThatThrownBy(() -> MarkedSection.replace("<!-- growth:end -->\n<!-- growth:begin -->\n", "growth", "x"))
                .hasMessageContaining("damaged growth section");
        assertThatThrownBy(() -> MarkedSection.replace("<!-- growth:begin -->\nno end\n", "growth", "x"))
                .hasMessageContaining("damaged");
    }
}
