package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MatrixMarkdownTest {

    private static final Machine MACHINE = new Machine(2, "6.18.44", "AMD EPYC", "Temurin 25", "HAProxy version 2.6.12", "wrk 4.1.0");
    private static final MatrixOptions OPTIONS = new MatrixOptions(List.of(2, 16), 1000, 1024, Duration.ofSeconds(1),
            Duration.ofSeconds(3), List.of(16), Duration.ofSeconds(2), List.of(1), 4, Duration.ofMillis(500), Duration.ZERO,
            Duration.ofSeconds(2), 2, List.of("direct", "nodemesh", "haproxy", "haproxy-mtls", "nodemesh-mtls"), Path.of("RESULTS.md"),
            Path.of("nodemesh.jar"), 1, 0, 0, false, "nodemesh bench-matrix --quick");

    private static Measurement lat(int conns, String s, int round, long p50, long p99, double cpuPer1000) {
        return new Measurement(Measurement.LATENCY, conns, s, round, 1000, p50, p50 + 10, p99, p99 + 100, 0,
                Double.isNaN(cpuPer1000) ? Double.NaN : cpuPer1000 * 4, cpuPer1000, 0.1, 0.05, null);
    }

    private static Measurement of(String scenario, int param, String s, double value) {
        return new Measurement(scenario, param, s, 0, value, 100, 150, 200, -1, 0, 1.0, 0.02, 0.5, 0.03, null);
    }

    private static MatrixReport report(List<Measurement> extra, Map<String, String> unavailable) {
        List<Measurement> ms = new ArrayList<>(List.of(
                lat(2, "direct", 0, 80, 1000, Double.NaN), lat(2, "direct", 1, 100, 1200, Double.NaN),
                lat(2, "nodemesh", 0, 120, 2000, 0.02), lat(2, "nodemesh", 1, 140, 2400, 0.04),
                lat(2, "haproxy", 0, 110, 1500, 0.01), lat(2, "haproxy", 1, 110, 1500, 0.01),
                lat(16, "direct", 0, 90, 900, Double.NaN), lat(16, "nodemesh", 0, 200, 1800, 0.05),
                lat(16, "haproxy", 0, 100, 1000, 0.02),
                of(Measurement.THROUGHPUT, 16, "direct", 20_000), of(Measurement.THROUGHPUT, 16, "nodemesh", 15_000),
                of(Measurement.THROUGHPUT, 16, "haproxy", 30_000),
                of(Measurement.BULK, 1, "direct", 10), of(Measurement.BULK, 1, "nodemesh", 5), of(Measurement.BULK, 1, "haproxy", 8),
                of(Measurement.CHURN, 4, "direct", 6000), of(Measurement.CHURN, 4, "nodemesh", 3000),
                of(Measurement.CHURN, 4, "haproxy", 4000)));
        ms.addAll(extra);
        Map<String, String> d = new LinkedHashMap<>();
        for (String s : OPTIONS.subjects()) {
            d.put(s, s + " path");
        }
        return new MatrixReport(MACHINE, OPTIONS, Instant.parse("2026-11-23T07:00:00Z"), Duration.ofSeconds(150), d,
                unavailable, ms, Map.of("nodemesh", new MatrixReport.Memory(40 * 1024, 50 * 1024),
                "haproxy", new MatrixReport.Memory(10 * 1024, 20 * 1024)), List.of("a note"));
    }

    @Test
    void medianOverRoundsIsTakenPerFigure() {
        Measurement m = report(List.of(), Map.of()).median(Measurement.LATENCY, 2, "nodemesh").orElseThrow();

        assertThat(m.p50Us()).isEqualTo(130);
        assertThat(m.p99Us()).isEqualTo(2200);
        assertThat(m.cpuPer1000()).isEqualTo(0.03, org.assertj.core.data.Offset.offset(1e-9));
    }

    @Test
    void latencyRowsCarryAbsoluteFiguresAddedLatencyAndRatiosToDirectAndHaproxy() {
        String md = MatrixMarkdown.render(report(List.of(), Map.of()), List.of("results/matrix-latency.png"));

        assertThat(md).startsWith(MatrixMarkdown.BEGIN).endsWith(MatrixMarkdown.END + "\n");
        // nodemesh at 2 conns: p50 130 (median of 120, 140) vs direct 90 (median of 80, 100) and haproxy 110.
        assertThat(md).contains("| 2 | nodemesh | 130 µs | 140 µs | 2200 µs | 2300 µs | +40 µs | 1.44× | 1.18× | 2.00× | 1.47× |");
        assertThat(md).contains("| 16 | nodemesh | 200 µs |", "| +110 µs | 2.22× | 2.00× |");
        assertThat(md).contains("![results/matrix-latency.png](results/matrix-latency.png)", "- a note");
    }

    @Test
    void otherTablesShowRatiosToDirectAndHaproxy() {
        String md = MatrixMarkdown.render(report(List.of(), Map.of()), List.of());

        assertThat(md).contains("| 16 | nodemesh | 15,000 | 0.75× | 0.50× |");
        assertThat(md).contains("| 1 | nodemesh | 5.00 | 0.50× | 0.63× |");
        assertThat(md).contains("| 4 | nodemesh | 3,000 | 0.50× | 0.75× |");
        assertThat(md).contains("| nodemesh | 0.0400 | 2.67× |", "| 40.0 MiB | 50.0 MiB | 2.50× |");
    }

    @Test
    void targetsSayWhereWeStand() {
        String md = MatrixMarkdown.render(report(List.of(), Map.of()), List.of());

        assertThat(md).contains("| plain capture: throughput ≥ HAProxy's (same core) | nodemesh / haproxy req/s — 16 conns: 0.50× | **not met** |");
        assertThat(md).contains("added p50 by connections — 2: +40 µs, 16: +110 µs | **not met** |");
        assertThat(md).contains("| RSS ≤ 64 MB per node proxy at 1000 req/s | nodemesh steady 40.0 MiB, peak 50.0 MiB | **met** |");
        assertThat(md).doesNotContain("not built yet").doesNotContain("NIO cannot capture");
    }

    @Test
    void theTunnelPairIsJudgedAgainstDirectAndBesideTheHaproxyPair() {
        // Direct at 2 conns: p90 100 (median of 90, 110), p99 1100; at 16: p90 100, p99 900.
        String md = MatrixMarkdown.render(report(List.of(
                lat(2, "nodemesh-mtls", 0, 150, 1200, 0.05), lat(16, "nodemesh-mtls", 0, 170, 1000, 0.07),
                lat(2, "haproxy-mtls", 0, 300, 2000, 0.2), lat(16, "haproxy-mtls", 0, 300, 2000, 0.2),
                of(Measurement.CHURN, 4, "nodemesh-mtls", 4500), of(Measurement.CHURN, 4, "haproxy-mtls", 500)), Map.of()),
                List.of());

        assertThat(md).contains("| tunnel pair: added p90 ≤ 0.10 ms, p99 ≤ 0.15 ms over direct | nodemesh-mtls added p90 / p99 "
                + "by connections — 2: +60 µs / +100 µs, 16: +80 µs / +100 µs; haproxy-mtls — 2: +210 µs / +900 µs, "
                + "16: +210 µs / +1100 µs | **met** |");
        assertThat(md).contains("nodemesh-mtls 0.0600 vCPU for both proxies (0.0300 per proxy), haproxy-mtls 0.2000, "
                + "median over connection counts | **met** |");
        assertThat(md).contains("nodemesh-mtls 4,500/s = 0.75× direct; haproxy-mtls 500/s = 0.08× direct | **not met** |");
        assertThat(md).contains("| 2 | nodemesh-mtls | 150 µs | 160 µs | 1200 µs |", "| 4 | nodemesh-mtls | 4,500 | 0.75× |");
    }

    @Test
    void theTunnelPairWithoutFiguresIsNoVerdict() {
        String md = MatrixMarkdown.render(report(List.of(), Map.of("nodemesh-mtls", "the tunnel pair does not carry a request")),
                List.of());

        assertThat(md).contains("| nodemesh-mtls | nodemesh-mtls path | **not run**: the tunnel pair does not carry a request |");
        assertThat(md).contains("nodemesh-mtls added p90 / p99 by connections — 2: — / —, 16: — / —", "| no figure |");
    }

    @Test
    void transportTableShowsEpollIoUringAndNioWithRatiosToEpoll() {
        String md = MatrixMarkdown.render(report(List.of(
                lat(2, "nodemesh-io_uring", 0, 104, 2000, 0.02), lat(2, "nodemesh-nio", 0, 195, 2000, 0.03),
                of(Measurement.THROUGHPUT, 16, "nodemesh-io_uring", 16_500), of(Measurement.THROUGHPUT, 16, "nodemesh-nio", 12_000),
                of(Measurement.BULK, 1, "nodemesh-nio", 4)), Map.of()), List.of());

        assertThat(md).contains("### 6. Transports: epoll vs io_uring vs NIO\n",
                "| figure | nodemesh (epoll) | nodemesh-io_uring | nodemesh-nio | io_uring / epoll | NIO / epoll |");
        assertThat(md).contains("| fixed-rate p50, 2 conns | 130 µs | 104 µs | 195 µs | 0.80× | 1.50× |");
        assertThat(md).contains("| wrk req/s, 16 conns | 15,000 | 16,500 | 12,000 | 1.10× | 0.80× |");
        // io_uring has no bulk figure: shown as missing, not as a ratio.
        assertThat(md).contains("| bulk Gbit/s, 1 streams | 5.00 | — | 4.00 | — | 0.80× |");
        assertThat(md).contains("| churn conns/s | 3,000 | — | — | — | — |");
    }

    @Test
    void aFailedOrUnavailableSubjectIsReportedNotInvented() {
        String md = MatrixMarkdown.render(report(List.of(Measurement.failed(Measurement.LATENCY, 2, "haproxy-mtls", 0, "exited 1: boom")),
                Map.of("haproxy-mtls", "openssl is not installed")), List.of());

        assertThat(md).contains("| haproxy-mtls | haproxy-mtls path | **not run**: openssl is not installed |");
        assertThat(md).contains("| 2 | haproxy-mtls | failed: exited 1: boom |");
        assertThat(md).contains("| 16 | haproxy-mtls | failed: openssl is not installed |");
    }

    @Test
    void replaceSectionKeepsTheRestOfTheFileAndTheE2eSection() {
        String e2e = MarkdownReport.BEGIN + "\nold e2e\n" + MarkdownReport.END + "\n";
        String first = MatrixMarkdown.replaceSection("# title\n\n" + e2e, MatrixMarkdown.BEGIN + "\nv1\n" + MatrixMarkdown.END + "\n");
        String second = MatrixMarkdown.replaceSection(first + "tail\n", MatrixMarkdown.BEGIN + "\nv2\n" + MatrixMarkdown.END + "\n");

        assertThat(second).isEqualTo("# title\n\n" + e2e + "\n" + MatrixMarkdown.BEGIN + "\nv2\n" + MatrixMarkdown.END + "\ntail\n");
        assertThatThrownBy(() -> MatrixMarkdown.replaceSection(MatrixMarkdown.END + MatrixMarkdown.BEGIN, "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("broken matrix section");
    }

    @Test
    void formatsMissingFiguresAsDashes() {
        assertThat(MatrixMarkdown.x(Double.NaN)).isEqualTo("—");
        assertThat(MatrixMarkdown.us(-1)).isEqualTo("—");
        assertThat(MatrixMarkdown.us(12_345)).isEqualTo("12.3 ms");
        assertThat(MatrixMarkdown.signedUs(-20)).isEqualTo("−20 µs");
    }

    @Test
    void optionsNameTheOffendingOption() {
        assertThatThrownBy(() -> new MatrixOptions(List.of(0), 1000, 1024, Duration.ofSeconds(1), Duration.ofSeconds(3),
                List.of(16), Duration.ofSeconds(2), List.of(1), 4, Duration.ofMillis(500), Duration.ZERO, Duration.ofSeconds(2), 1,
                List.of("direct"), Path.of("R.md"), Path.of("n.jar"), 1, 0, 0, false, "x"))
                .hasMessageContaining("--latency-connections");
        assertThatThrownBy(() -> new MatrixOptions(List.of(2), 1000, 1024, Duration.ofSeconds(1), Duration.ofSeconds(3),
                List.of(16), Duration.ofSeconds(2), List.of(1), 4, Duration.ofMillis(500), Duration.ZERO, Duration.ofSeconds(2), 1,
                List.of("nodemesh"), Path.of("R.md"), Path.of("n.jar"), 1, 0, 0, false, "x"))
                .hasMessageContaining("--subjects");
    }
}
