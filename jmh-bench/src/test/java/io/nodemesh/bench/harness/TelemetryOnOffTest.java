package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class TelemetryOnOffTest {

    private static final Machine MACHINE = new Machine(2, "6.18.44", "AMD EPYC", "Temurin 25", "HAProxy 2.6", "wrk 4.1.0");

    private static MatrixOptions options(int rounds, List<String> subjects) {
        return new MatrixOptions(List.of(2), 1000, 1024, Duration.ofSeconds(1), Duration.ofSeconds(3), List.of(16),
                Duration.ofSeconds(2), List.of(1), 4, Duration.ofMillis(500), Duration.ZERO, Duration.ofSeconds(2), rounds, subjects,
                Path.of("RESULTS.md"), Path.of("nodemesh.jar"), 1, 0, 0, false, "nodemesh bench-matrix");
    }

    private static Measurement wrk(String s, int round, double reqPerSecond) {
        return new Measurement(Measurement.THROUGHPUT, 16, s, round, reqPerSecond, 100, 150, 200, -1, 0, 1.0, 0.02, 0.5,
                0.03, null);
    }

    private static Measurement lat(String s, int round, long p50) {
        return new Measurement(Measurement.LATENCY, 2, s, round, 1000, p50, p50, p50 * 3, p50 * 4, 0, 0.4, 0.1, 0.1, 0.0,
                null);
    }

    private static String render(int rounds, List<String> subjects, List<Measurement> ms) {
        Map<String, String> d = new LinkedHashMap<>();
        subjects.forEach(s -> d.put(s, s + " path"));
        MatrixReport r = new MatrixReport(MACHINE, options(rounds, subjects), Instant.parse("2026-11-23T07:00:00Z"),
                Duration.ofSeconds(100), d, Map.of(), ms, Map.of(), List.of());
        StringBuilder md = new StringBuilder();
        TelemetryOnOff.table(md, r, "### 7. Telemetry on vs off");
        return md.toString();
    }

    @Test
    void ratiosArePairedByRoundAndJudgedAgainstTheOffSubjectsOwnSpread() {
        List<Measurement> ms = new ArrayList<>();
        // wrk: off 10,000 / 11,000 / 12,000 (spread 1.20×); on is 1 % lower each round: within noise, < 2 %.
        double[] off = {10_000, 11_000, 12_000};
        for (int round = 0; round < 3; round++) {
            ms.add(wrk("nodemesh", round, off[round]));
            ms.add(wrk("nodemesh-telemetry", round, off[round] * 0.99));
        }
        // p50: off steady at 100 µs (spread 1.00×); on 150 µs: differs beyond noise.
        for (int round = 0; round < 3; round++) {
            ms.add(lat("nodemesh", round, 100));
            ms.add(lat("nodemesh-telemetry", round, 150));
        }

        String md = render(3, List.of("direct", "nodemesh", "nodemesh-telemetry"), ms);

        assertThat(md).contains("### 7. Telemetry on vs off");
        assertThat(md).contains("| wrk req/s, 16 conns | 11,000 | 10,890 | 0.99× | 0.99× … 0.99× | 1.20× | within noise, < 2 % |");
        assertThat(md).contains("| fixed-rate p50, 2 conns | 100 µs | 150 µs | 1.50× | 1.50× … 1.50× | 1.00× | differs beyond noise |");
        // Bulk and churn have no runs: shown as missing, not counted.
        assertThat(md).contains("| bulk Gbit/s, 1 streams | — | — | — | — | — | no figure |");
        assertThat(md).contains("Of 4 figures, 2 differ by less than 2 % and 2 by less than the off subject's own spread");
    }

    @Test
    void churnShowsEachConnectionsP50AndP99BesideTheRate() {
        List<Measurement> ms = new ArrayList<>();
        // Same rate both ways; the on subject's p99 per connection is 2 ms against 1.0-1.2 ms: beyond the spread.
        long[] offP99 = {1000, 1100, 1200};
        for (int round = 0; round < 3; round++) {
            ms.add(churn("nodemesh", round, 4000, 800, offP99[round]));
            ms.add(churn("nodemesh-telemetry", round, 4000, 800, 2000));
        }

        String md = render(3, List.of("direct", "nodemesh", "nodemesh-telemetry"), ms);

        assertThat(md).contains("| churn conns/s | 4,000 | 4,000 | 1.00× | 1.00× … 1.00× | 1.00× | within noise, < 2 % |");
        assertThat(md).contains("| churn p50 per connection | 800 µs | 800 µs | 1.00× |");
        assertThat(md).contains("| churn p99 per connection | 1100 µs | 2000 µs | 1.82× | 1.67× … 2.00× | 1.20× | differs beyond noise |");
    }

    private static Measurement churn(String s, int round, double perSecond, long p50, long p99) {
        return new Measurement(Measurement.CHURN, 4, s, round, perSecond, p50, p50, p99, p99, 0, 4.0, 0.2, 0.9, 0.01, null);
    }

    @Test
    void telemetrysOwnCpuIsShownAsAShareOfTheOnSubjectsCpu() {
        List<Measurement> ms = new ArrayList<>();
        // The on subject used 1.0 CPU s per run for 50,000 requests, of which telemetry 0.01 / 0.03 / 0.02 s.
        double[] telemetry = {0.01, 0.03, 0.02};
        for (int round = 0; round < 3; round++) {
            ms.add(wrk("nodemesh", round, 10_000));
            ms.add(wrk("nodemesh-telemetry", round, 10_000).withTelemetryCpu(telemetry[round]));
        }

        String md = render(3, List.of("direct", "nodemesh", "nodemesh-telemetry"), ms);

        assertThat(md).contains("#### Telemetry's own CPU, counted apart in the same runs");
        assertThat(md).contains("| wrk, 16 conns | 0.020 | 1.00 | 2.00 % | 1.00 % … 3.00 % | 0.40 ms per 1000 requests |");
        assertThat(md).contains("Largest median share: 2.00 % of the subject's CPU.");
        // Steps without telemetry CPU figures get no row.
        assertThat(md).doesNotContain("| churn |");
    }

    @Test
    void withoutTelemetryCpuFiguresThereIsNoOwnCpuTable() {
        List<Measurement> ms = List.of(wrk("nodemesh", 0, 10_000), wrk("nodemesh-telemetry", 0, 10_000));

        assertThat(render(1, List.of("direct", "nodemesh", "nodemesh-telemetry"), ms)).doesNotContain("own CPU");
    }

    @Test
    void oneRoundCannotJudgeNoise() {
        String md = render(1, List.of("direct", "nodemesh", "nodemesh-telemetry"),
                List.of(wrk("nodemesh", 0, 10_000), wrk("nodemesh-telemetry", 0, 9_000)));

        assertThat(md).contains("| wrk req/s, 16 conns | 10,000 | 9,000 | 0.90× | 0.90× … 0.90× | — | differs (one round: noise unknown) |");
    }

    @Test
    void theAaControlIsJudgedByTheSameRuleAndCounted() {
        List<Measurement> ms = new ArrayList<>();
        // wrk: off 10,000 / 11,000 / 12,000 (spread 1.20×); on 5 % lower (within noise); again 30 % lower (beyond it).
        double[] off = {10_000, 11_000, 12_000};
        for (int round = 0; round < 3; round++) {
            ms.add(wrk("nodemesh", round, off[round]));
            ms.add(wrk("nodemesh-telemetry", round, off[round] * 0.95));
            ms.add(wrk("nodemesh-again", round, off[round] * 0.7));
        }
        // p50: off 100 / 110 / 120 µs (spread 1.20×); on 150 µs (beyond); again the same as off (within, < 2 %).
        for (int round = 0; round < 3; round++) {
            ms.add(lat("nodemesh", round, 100 + 10 * round));
            ms.add(lat("nodemesh-telemetry", round, 150));
            ms.add(lat("nodemesh-again", round, 100 + 10 * round));
        }

        String md = render(3, List.of("direct", "nodemesh", "nodemesh-telemetry", "nodemesh-again"), ms);

        assertThat(md).contains("| verdict | A/A: again/off (median) | A/A range | A/A verdict |");
        assertThat(md).contains("| wrk req/s, 16 conns | 11,000 | 10,450 | 0.95× | 0.95× … 0.95× | 1.20× | within noise "
                + "| 0.70× | 0.70× … 0.70× | differs beyond noise |");
        assertThat(md).contains("| fixed-rate p50, 2 conns | 110 µs | 150 µs | 1.36× | 1.25× … 1.50× | 1.20× | differs beyond noise "
                + "| 1.00× | 1.00× … 1.00× | within noise, < 2 % |");
        // p50, p99 and CPU per 1000 requests (the same in every run) from the fixed rate, and wrk.
        assertThat(md).contains("Of 4 figures, 1 differ by less than 2 % and 2 by less than the off subject's own spread");
        assertThat(md).contains("A/A control: 3 of 4 within that spread, 1 beyond it with no difference between the subjects.");
    }

    @Test
    void withoutTheControlThereAreNoAaColumns() {
        String md = render(3, List.of("direct", "nodemesh", "nodemesh-telemetry"),
                List.of(wrk("nodemesh", 0, 10_000), wrk("nodemesh-telemetry", 0, 9_000)));

        assertThat(md).doesNotContain("A/A");
    }

    @Test
    void absentWithoutBothSubjects() {
        assertThat(render(1, List.of("direct", "nodemesh"), List.of(wrk("nodemesh", 0, 10_000)))).isEmpty();
    }
}
