package io.nodemesh.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class ReportCliTest {

    @Test
    void anUnknownOnlyPartIsAUsageErrorThatRunsNothing(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("RESULTS.md");
        Files.writeString(out, "unchanged\n");
        StringWriter err = new StringWriter();
        CommandLine cl = new CommandLine(new Report("bench-report", () -> false)).setErr(new PrintWriter(err));

        int status = cl.execute("--only", "micro,bogus", "--out", out.toString());

        assertThat(status).isEqualTo(2);
        assertThat(err.toString()).contains("--only: unknown part 'bogus' (known: micro, telemetry, onoff, matrix, growth, e2e)");
        assertThat(Files.readString(out)).isEqualTo("unchanged\n");
    }
}
