package io.nodemesh.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SectionFileTest {

    private static final String BEFORE = "# Results\r\n\nhand-written prose, 88 B → 0 B  \n\n<!-- e2e:begin -->\nold e2e\n<!-- e2e:end -->\n\n";
    private static final String AFTER = "\n\n## Analysis\n\ntrailing text without a final newline ✓";

    @Test
    void replacesOnlyItsOwnSectionAndLeavesEveryOtherByteAlone(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("RESULTS.md");
        Files.writeString(file, BEFORE + "<!-- micro:begin -->\nold table\n| a | 1 |\n<!-- micro:end -->" + AFTER);

        SectionFile.write(file, "micro", "## JMH\n\n| b | 2 |\n");

        String text = Files.readString(file, StandardCharsets.UTF_8);
        assertThat(text).isEqualTo(BEFORE + "<!-- micro:begin -->\n## JMH\n\n| b | 2 |\n<!-- micro:end -->" + AFTER);
        assertThat(text).doesNotContain("old table");
        assertThat(dir.resolve("RESULTS.md.tmp")).doesNotExist();
    }

    @Test
    void appendsAMissingSectionAfterTheExistingText(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("RESULTS.md");
        Files.writeString(file, BEFORE);

        SectionFile.write(file, "telemetry-throughput", "body");

        assertThat(Files.readString(file)).isEqualTo(BEFORE + "<!-- telemetry-throughput:begin -->\nbody\n<!-- telemetry-throughput:end -->\n");
    }

    @Test
    void aDamagedSectionIsAnErrorAndTheFileStaysAsItWas(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("RESULTS.md");
        String damaged = BEFORE + "<!-- micro:end -->\n<!-- micro:begin -->\n";
        Files.writeString(file, damaged);

        assertThatThrownBy(() -> SectionFile.write(file, "micro", "x")).hasMessageContaining("damaged micro section");
        assertThat(Files.readString(file)).isEqualTo(damaged);
    }
}
