package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class MarkdownReportTest {

    private static final Machine MACHINE = new Machine(2, "6.18.44", "AMD EPYC", "Temurin 25", "HAProxy version 2.6.12", "wrk 4.1.0");
    private static final BenchOptions OPTIONS = new BenchOptions(Duration.ofSeconds(5), Duration.ofSeconds(2), 1, 16, 1024,
            BenchOptions.ALL_SUBJECTS, Path.of("RESULTS.md"), Path.of("nodemesh.jar"), "epoll", 1, 0, 0, false, "nodemesh bench --quick");

    // Real wrk outputs: direct (p50 510 µs, 16,398.56 req/s), HAProxy (p50 322 µs, 40,441.06 req/s),
    // and one standing in for nodemesh (p50 77 µs, 24,818.97 req/s).
    private static final WrkResult DIRECT = WrkOutputParser.parse(Captured.read("wrk-direct-warmup.txt"));
    private static final WrkResult HAPROXY = WrkOutputParser.parse(Captured.read("wrk-haproxy-16c.txt"));
    private static final WrkResult NODEMESH = WrkOutputParser.parse(Captured.read("wrk-resets.txt"));

    private static SubjectSummary summary(String name, WrkResult w, double cpu, ProcessSample memory) {
        return SubjectSummary.of(name, name + " path", List.of(new RoundResult(name, 0, w, cpu, 0.02)), memory);
    }

    @Test
    void rendersAbsoluteFiguresRatiosAndTargetVerdicts() {
        BenchReport report = new BenchReport(MACHINE, OPTIONS, Instant.parse("2026-11-23T06:00:00Z"), Duration.ofSeconds(61),
                List.of(summary("direct", DIRECT, Double.NaN, null),
                        summary("nodemesh", NODEMESH, 1.5, new ProcessSample(0, 40_960, 51_200)),
                        summary("haproxy", HAPROXY, 4.18, new ProcessSample(0, 14_745, 14_745))),
                List.of(new RoundResult("direct", 0, DIRECT, Double.NaN, 0.9), new RoundResult("nodemesh", 0, NODEMESH, 1.5, 0.02),
                        new RoundResult("haproxy", 0, HAPROXY, 4.18, 0.02)),
                List.of());

        String md = MarkdownReport.render(report, List.of("results/e2e.png"));

        assertThat(md).startsWith(MarkdownReport.BEGIN).endsWith(MarkdownReport.END + "\n");
        assertThat(md).contains("Written by `nodemesh bench --quick` on 2026-11-23T06:00:00 UTC (took 61 s)");
        assertThat(md).contains("| direct | direct path | 16,399 | 510 µs | 3.43 ms | 5.70 ms | — | — | — | — | — | 0 |");
        // HAProxy: 4.18 CPU s over 5.00 s = 84 % of its core; (4.18/5) / (202,276/5/1000) = 0.021 vCPU per 1000 req/s.
        assertThat(md).contains("| haproxy | haproxy path | 40,441 | 322 µs | 568 µs | 1.98 ms | −188 µs | 4.18 | 84 % | 0.021 | 14.4 MiB / 14.4 MiB | 0 |");
        // 1.5 CPU s over 2.03 s = 74 %; 1.5 / 50,473 requests × 1000 = 0.030 vCPU per 1000 req/s.
        assertThat(md).contains("| nodemesh | nodemesh path | 24,819 | 77 µs | 5.08 ms | 54.9 ms | −433 µs | 1.50 | 74 % | 0.030 | 40.0 MiB / 50.0 MiB | 1030 |");
        assertThat(md).contains("| nodemesh / direct | 1.51 | 1.51 [1.51 – 1.51] | 0.15 | 9.63 | — |");
        // CPU per request: (1.5 s / 50,473) / (4.18 s / 202,276) = 1.44.
        assertThat(md).contains("| nodemesh / haproxy | 0.61 | 0.61 [0.61 – 0.61] | 0.24 | 27.72 | 1.44 |");
        assertThat(md).contains("| haproxy / direct | 2.47 | 2.47 [2.47 – 2.47] | 0.63 | 0.35 | — |");
        assertThat(md).contains("nodemesh req/s ≥ 0.8 × HAProxy's on the same core (median of same-round pairs): **not met** (0.61 ×; single rounds 0.61 – 0.61)");
        assertThat(md).contains("issue 7, nodemesh req/s ≥ HAProxy's (median of same-round pairs): **not met** (0.61 ×; single rounds 0.61 – 0.61)");
        assertThat(md).contains("added p50 ≤ 50 µs").contains("**met** (−433 µs)");
        assertThat(md).contains("![req/s and p50/p99 latency per subject](results/e2e.png)");
    }

    @Test
    void setsTheProxyAgainstHaproxyBehindTheSameCaptureWhenThatRan() {
        BenchReport report = new BenchReport(MACHINE, OPTIONS, Instant.parse("2026-11-23T06:00:00Z"), Duration.ofSeconds(61),
                List.of(summary("nodemesh", NODEMESH, 1.5, new ProcessSample(0, 40_960, 51_200)),
                        summary("haproxy", HAPROXY, 4.18, new ProcessSample(0, 14_745, 14_745)),
                        summary("haproxy-captured", DIRECT, 2.0, new ProcessSample(0, 14_745, 14_745))),
                List.of(new RoundResult("nodemesh", 0, NODEMESH, 1.5, 0.02), new RoundResult("haproxy", 0, HAPROXY, 4.18, 0.02),
                        new RoundResult("haproxy-captured", 0, DIRECT, 2.0, 0.02)),
                List.of());

        String md = MarkdownReport.render(report, List.of());

        // 24,819 / 16,399 req/s; CPU per request (1.5 s / 50,473) / (2.0 s / 32,921) = 0.49.
        assertThat(md).contains("| nodemesh / haproxy-captured | 1.51 | 1.51 [1.51 – 1.51] | 0.15 | 9.63 | 0.49 |");
        assertThat(md).contains("| haproxy-captured / haproxy | 0.41 |");
        assertThat(md).contains("issue 23, nodemesh req/s ≥ HAProxy's behind the same capture (median of same-round pairs): "
                + "**met** (1.51 ×; single rounds 1.51 – 1.51)");
    }

    @Test
    void saysWhichSubjectDidNotRunAndWhyWithoutInventingRatios() {
        BenchReport report = new BenchReport(MACHINE, OPTIONS, Instant.parse("2026-11-23T06:00:00Z"), Duration.ofSeconds(30),
                List.of(summary("direct", DIRECT, Double.NaN, null),
                        SubjectSummary.unavailable("nodemesh", "nodemesh path", "proxy exited with status 1\nlog line | one\nlog line two"),
                        summary("haproxy", HAPROXY, 4.18, new ProcessSample(0, 14_745, 14_745))),
                List.of(new RoundResult("direct", 0, DIRECT, Double.NaN, Double.NaN), new RoundResult("haproxy", 0, HAPROXY, 4.18, 0.034)),
                List.of("a note"));

        String md = MarkdownReport.render(report, List.of());

        // 1.5 CPU s over 2.03 s = 74 %; 1.5 / 50,473 requests × 1000 = 0.030 vCPU per 1000 req/s.
        assertThat(md).contains("| nodemesh | nodemesh path | not run: proxy exited with status 1 (see notes) |");
        assertThat(md).contains("| nodemesh / direct | — | — | — | — | — |").contains("| nodemesh / haproxy | — | — | — | — | — |");
        assertThat(md).contains("| haproxy / direct | 2.47 | 2.47 [2.47 – 2.47] | 0.63 | 0.35 | — |");
        assertThat(md).contains("0.8 × HAProxy's on the same core (median of same-round pairs): not measured in this run");
        assertThat(md).contains("- nodemesh not run: proxy exited with status 1\n  ```\n  log line | one\n  log line two\n  ```\n");
        assertThat(md).contains("| 1 | haproxy | 40,441 | 322 µs | 568 µs | 1.98 ms | 8.94 ms | 4.18 | 3 % | 0 |");
        assertThat(md).contains("- a note").doesNotContain("![").doesNotContain("haproxy-captured");
    }

    @Test
    void pairsRatiosWithinRoundsAndSkipsRoundsWhereOneSideDidNotRun() {
        List<RoundResult> rounds = List.of(
                new RoundResult("nodemesh", 0, NODEMESH, 1, 0), new RoundResult("haproxy", 0, HAPROXY, 1, 0), // 0.614
                new RoundResult("haproxy", 1, DIRECT, 1, 0), new RoundResult("nodemesh", 1, HAPROXY, 1, 0),   // 2.466
                new RoundResult("nodemesh", 2, DIRECT, 1, 0), new RoundResult("haproxy", 2, NODEMESH, 1, 0),  // 0.661
                new RoundResult("nodemesh", 3, DIRECT, 1, 0));                                                   // no pair
        BenchReport report = new BenchReport(MACHINE, OPTIONS, Instant.EPOCH, Duration.ZERO, List.of(), rounds, List.of());

        double[] pairs = MarkdownReport.pairedRatios(report, "nodemesh", "haproxy");

        assertThat(pairs).hasSize(3);
        assertThat(pairs[0]).isEqualTo(NODEMESH.requestsPerSecond() / HAPROXY.requestsPerSecond());
        assertThat(pairs[1]).isEqualTo(DIRECT.requestsPerSecond() / NODEMESH.requestsPerSecond());
        assertThat(pairs[2]).isEqualTo(HAPROXY.requestsPerSecond() / DIRECT.requestsPerSecond());
    }

    @Test
    void summarisesRoundsByTheirMedian() {
        List<RoundResult> rounds = List.of(new RoundResult("x", 0, DIRECT, 1.0, 0), new RoundResult("x", 1, HAPROXY, 2.0, 0),
                new RoundResult("x", 2, NODEMESH, 3.0, 0));

        SubjectSummary s = SubjectSummary.of("x", "x", rounds, null);

        assertThat(s.requestsPerSecond()).isEqualTo(NODEMESH.requestsPerSecond()); // 16,399 < 24,819 < 40,441
        assertThat(s.p50Micros()).isEqualTo(HAPROXY.p50Micros()); // 77 < 322 < 510
        assertThat(s.cpuSeconds()).isEqualTo(6.0);
        assertThat(s.requests()).isEqualTo(DIRECT.requests() + HAPROXY.requests() + NODEMESH.requests());
        assertThat(s.errors()).isEqualTo(1_030);
    }

    @Test
    void replacesOnlyItsOwnSectionAndAppendsItWhenAbsent() {
        String file = "# Results\n\nintro\n\n" + MarkdownReport.BEGIN + "\nold figures\n" + MarkdownReport.END + "\n\n## JMH\nkept\n";
        String section = MarkdownReport.BEGIN + "\nnew figures\n" + MarkdownReport.END + "\n";

        String once = MarkdownReport.replaceSection(file, section);

        assertThat(once).isEqualTo("# Results\n\nintro\n\n" + section + "\n## JMH\nkept\n");
        assertThat(MarkdownReport.replaceSection(once, section)).isEqualTo(once);
        assertThat(MarkdownReport.replaceSection("# Results\n", section)).isEqualTo("# Results\n\n" + section);
        assertThat(MarkdownReport.replaceSection("", section)).isEqualTo(section);
    }

    @Test
    void refusesABrokenSection() {
        String broken = MarkdownReport.END + "\n" + MarkdownReport.BEGIN + "\n";

        assertThatThrownBy(() -> MarkdownReport.replaceSection(broken, "x"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(MarkdownReport.BEGIN);
    }
}
