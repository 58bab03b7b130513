package io.nodemesh.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.bench.harness.Machine;
import io.nodemesh.bench.telemetry.ReporterThroughput.Result;
import io.nodemesh.bench.telemetry.ReporterThroughput;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class TelemetrySectionTest {

    private static final RunStamp STAMP = new RunStamp("bench-report", Instant.parse("2026-11-23T08:00:00Z"),
            Duration.ofSeconds(40), new Machine(2, "6.18", "EPYC", "25", "-", "-"), "1 / 1 / 1", "2 / 1 / 1");

    // records in 10 s of wall time, with the given CPU seconds
    private static Result run(long records, double cpuSeconds, double load) {
        return run(records, cpuSeconds, load, ReporterThroughput.AGENT_PROCESS);
    }

    private static Result run(long records, double cpuSeconds, double load, String setup) {
        return new Result(10, 200, records, 10_000_000_000L, (long) (cpuSeconds * 1e9), 0, load, setup);
    }

    @Test
    void oneRowPerRunAndTheTargetJudgedOnTheMedian() {
        String md = TelemetrySection.render(STAMP, List.of(run(5_000_000, 12.5, 5.1), run(12_000_000, 15, 4.0),
                run(11_000_000, 20, 6.4)));

        assertThat(md).contains("| 1 | " + ReporterThroughput.AGENT_PROCESS + " | 5.1 | 500,000 | 1.25 | 400,000 | 0 |");
        assertThat(md).contains("| 3 | " + ReporterThroughput.AGENT_PROCESS + " | 6.4 | 1,100,000 | 2.00 | 550,000 | 0 |");
        assertThat(md).contains("median of 3 runs, " + ReporterThroughput.AGENT_PROCESS + "): **met** (median 1,100,000 records/s)");
    }

    @Test
    void theTargetIsJudgedOnTheAgentProcessRunsWhenThereAreAny() {
        String md = TelemetrySection.render(STAMP, List.of(run(20_000_000, 10, 1, ReporterThroughput.IN_PROCESS),
                run(9_000_000, 10, 1), run(20_000_000, 10, 1, ReporterThroughput.IN_PROCESS)));

        assertThat(md).contains("| 1 | " + ReporterThroughput.IN_PROCESS + " | 1.0 | 2,000,000 |");
        assertThat(md).contains("(median of 1 run, " + ReporterThroughput.AGENT_PROCESS + "): **not met** (median 900,000 records/s)");
    }

    @Test
    void aMedianBelowTheTargetIsNotMet() {
        String md = TelemetrySection.render(STAMP, List.of(run(9_999_990, 10, 1)));

        assertThat(md).contains("(median of 1 run, " + ReporterThroughput.AGENT_PROCESS + "): **not met** (median 999,999 records/s)");
    }
}
