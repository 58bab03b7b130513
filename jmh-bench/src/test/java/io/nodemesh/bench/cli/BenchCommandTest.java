package io.nodemesh.bench.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class BenchCommandTest {

    private static String errorsOf(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new BenchCommand()).setErr(new PrintWriter(err));
        assertThat(cli.execute(args)).as("exit status").isEqualTo(2);
        return err.toString();
    }

    @Test
    void namesTheOptionAnOperatorGotWrongBeforeBuildingAnything() {
        assertThat(errorsOf("--rounds", "0")).contains("--rounds must be between 1 and 20, got 0");
        assertThat(errorsOf("--duration", "1500ms")).contains("--duration must be a whole number of seconds");
        assertThat(errorsOf("--duration", "ten")).contains("'ten' is not a duration like 10s, 500ms or 2m");
        assertThat(errorsOf("--subjects", "direct,envoy")).contains("--subjects must be a non-empty list from [direct, nodemesh, haproxy, haproxy-captured]");
        assertThat(errorsOf("--nice", "-40")).contains("--nice must be between -20 and 19, got -40");
        assertThat(errorsOf("--transport", "dpdk")).contains("--transport must be epoll, io_uring or nio, got dpdk");
    }

    @Test
    void readsDurations() {
        BenchCommand.DurationConverter c = new BenchCommand.DurationConverter();

        assertThat(c.convert("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(c.convert("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(c.convert("2m")).isEqualTo(Duration.ofMinutes(2));
    }
}
