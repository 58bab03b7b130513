package io.nodemesh.bench.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.bench.harness.Machine;
import io.nodemesh.bench.harness.MatrixOptions;
import io.nodemesh.bench.harness.MatrixReport;
import io.nodemesh.bench.harness.Measurement;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class OnOffSectionTest {

    private static final RunStamp STAMP = new RunStamp("bench-report", Instant.parse("2026-11-23T08:00:00Z"),
            Duration.ofSeconds(300), new Machine(2, "6.18", "EPYC", "25", "-", "-"), "1 / 1 / 1", "2 / 1 / 1");

    private static Measurement wrk(String subject, int round, double reqPerSecond) {
        return new Measurement(Measurement.THROUGHPUT, 16, subject, round, reqPerSecond, 100, 150, 200, -1, 0, 1.0, 0.02,
                0.5, 0.03, null);
    }

    private static MatrixReport report(MatrixOptions o, List<Measurement> ms, Map<String, String> unavailable) {
        Map<String, String> d = new LinkedHashMap<>();
        o.subjects().forEach(s -> d.put(s, s + " path"));
        return new MatrixReport(STAMP.machine(), o, STAMP.started(), STAMP.took(), d, unavailable, ms, Map.of(), List.of());
    }

    @Test
    void theFullRunMeasuresLongerWindowsAfterTheMatrixsChurnWarmUp() {
        MatrixOptions o = OnOffSection.options(false, -10, Path.of("R.md"), "bench-report");

        assertThat(o.subjects()).containsExactly("direct", "nodemesh", "nodemesh-telemetry", "nodemesh-again");
        assertThat(o.rounds()).isEqualTo(3);
        assertThat(o.nice()).isEqualTo(-10);
        assertThat(o.latencyConnections()).containsExactly(2, 16, 64);
        assertThat(o.rate()).isEqualTo(1000);
        assertThat(o.latencyDuration()).isEqualTo(Duration.ofSeconds(10));
        assertThat(o.wrkDuration()).isEqualTo(Duration.ofSeconds(5));
        assertThat(o.shortDuration()).isEqualTo(Duration.ofSeconds(5));
        assertThat(o.churnWarmup()).isEqualTo(Duration.ofSeconds(20));
        assertThat(o.toolWarmup()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void theQuickRunKeepsTheDeveloperMatrixsShortWindows() {
        MatrixOptions o = OnOffSection.options(true, null, Path.of("R.md"), "bench-report");

        assertThat(o.rounds()).isEqualTo(2);
        assertThat(o.nice()).isZero();
        assertThat(o.latencyDuration()).isEqualTo(Duration.ofSeconds(3));
        assertThat(o.wrkDuration()).isEqualTo(Duration.ofSeconds(2));
        assertThat(o.churnWarmup()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void rendersTheRunsOnOffComparison() {
        MatrixOptions o = OnOffSection.options(false, null, Path.of("R.md"), "bench-report");
        List<Measurement> ms = new ArrayList<>();
        for (int round = 0; round < 3; round++) {
            ms.add(wrk("nodemesh", round, 10_000 + 1000 * round));
            ms.add(wrk("nodemesh-telemetry", round, 10_000 + 1000 * round));
            ms.add(wrk("nodemesh-again", round, 10_000 + 1000 * round));
        }

        String md = OnOffSection.render(STAMP, report(o, ms, Map.of()));

        assertThat(md).startsWith("## Telemetry on vs off, end to end (issue 3)\n\n" + STAMP.header());
        assertThat(md).contains("3 rounds", "### Telemetry off (`nodemesh`) against on (`nodemesh-telemetry`)");
        assertThat(md).contains("| wrk req/s, 16 conns | 11,000 | 11,000 | 1.00× | 1.00× … 1.00× | 1.20× | within noise, < 2 % | 1.00× | 1.00× … 1.00× | within noise, < 2 % |");
        assertThat(md).contains("A/A control: 1 of 1 within that spread, 0 beyond it");
    }

    @Test
    void aRunWithoutTheTelemetrySubjectIsAFailureNotAnEmptySection() {
        MatrixOptions o = OnOffSection.options(true, null, Path.of("R.md"), "bench-report");
        MatrixReport r = report(o, List.of(wrk("nodemesh", 0, 10_000)), Map.of("nodemesh-telemetry", "agent did not start"));

        assertThatThrownBy(() -> OnOffSection.render(STAMP, r)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("agent did not start");
    }
}
