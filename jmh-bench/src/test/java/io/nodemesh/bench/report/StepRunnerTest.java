package io.nodemesh.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StepRunnerTest {

    private static final String FILE = "# R\n\n<!-- a:begin -->\nold a\n<!-- a:end -->\n\nprose\n\n<!-- b:begin -->\nold b\n<!-- b:end -->\n";

    @Test
    void aFailingPartLeavesItsSectionUntouchedTheOthersStillRunAndTheStatusIsNonZero(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("RESULTS.md");
        Files.writeString(out, FILE);
        List<String> ran = new ArrayList<>();
        ByteArrayOutputStream log = new ByteArrayOutputStream();

        int status = StepRunner.run(List.of(
                new Step("first", () -> {
                    ran.add("first");
                    throw new IllegalStateException("wrk is not installed");
                }),
                new Step("second", () -> {
                    ran.add("second");
                    return Optional.of(new Section("b", "new b"));
                })), out, new PrintStream(log, true, StandardCharsets.UTF_8));

        assertThat(status).isEqualTo(1);
        assertThat(ran).containsExactly("first", "second");
        assertThat(Files.readString(out)).isEqualTo(FILE.replace("old b", "new b"));
        assertThat(log.toString(StandardCharsets.UTF_8)).contains("first FAILED").contains("wrk is not installed")
                .contains("FAILED: first");
    }

    @Test
    void allPartsSucceedingWriteTheirSectionsAndExitZero(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("RESULTS.md");
        Files.writeString(out, FILE);

        int status = StepRunner.run(List.of(
                new Step("a", () -> Optional.of(new Section("a", "new a"))),
                new Step("self-writing", Optional::empty)), out, new PrintStream(new ByteArrayOutputStream()));

        assertThat(status).isZero();
        assertThat(Files.readString(out)).isEqualTo(FILE.replace("old a", "new a"));
    }
}
