package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The units and words every connection view prints. */
class VocabularyTest {

    @Test
    void sizesAreInIecUnits() {
        assertThat(Vocabulary.bytes(0)).isEqualTo("0 B");
        assertThat(Vocabulary.bytes(830)).isEqualTo("830 B");
        assertThat(Vocabulary.bytes(1023)).isEqualTo("1023 B");
        assertThat(Vocabulary.bytes(4096)).isEqualTo("4.0 KiB");
        assertThat(Vocabulary.bytes(640 * 1024)).isEqualTo("640 KiB");
        assertThat(Vocabulary.bytes(1_258_291)).isEqualTo("1.2 MiB");
        assertThat(Vocabulary.bytes(20_000_000L * 1000)).isEqualTo("18.6 GiB");
        assertThat(Vocabulary.bytes(Long.MAX_VALUE)).isEqualTo("8.0 EiB");
    }

    @Test
    void outcomesReadAsWordsAndCountsInAFixedOrder() {
        Map<String, Long> counts = new LinkedHashMap<>();
        counts.put("RESET", 1L);
        counts.put("SOMETHING_NEW", 2L);
        counts.put("OK", 20L);
        assertThat(Vocabulary.outcomes(counts)).isEqualTo("OK 20, RESET 1, SOMETHING_NEW 2");
        assertThat(Vocabulary.outcomes(Map.of())).isEqualTo("none");
    }
}
