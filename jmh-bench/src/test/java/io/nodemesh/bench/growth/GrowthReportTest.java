package io.nodemesh.bench.growth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.nodemesh.bench.harness.Machine;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GrowthReportTest {

    private static final GrowthOptions.Variant A = new GrowthOptions.Variant("default", List.of("-XX:+UseCompactObjectHeaders"), Map.of());
    private static final GrowthOptions.Variant B = new GrowthOptions.Variant("tuned", List.of("-Xmx64m"), Map.of("MALLOC_ARENA_MAX", "2"));

    private static GrowthReport report(List<GrowthPoint> points, List<LoadPoint> loads) {
        GrowthOptions options = new GrowthOptions(List.of(0, 50, 100), Duration.ofSeconds(10), Duration.ofSeconds(10), 1000, 10000,
                List.of(A, B), Path.of("RESULTS.md"), Path.of("nodemesh.jar"), 1, false, "nodemesh bench growth --pods 0,50,100");
        return new GrowthReport(new Machine(2, "6.1", "EPYC", "Java 25", "", ""), options,
                Instant.parse("2026-11-23T07:00:00Z"), Duration.ofSeconds(95), 100, 1500, points, loads, List.of("a note"));
    }

    private static GrowthPoint p(GrowthOptions.Variant v, int pods, long rssKb, double idleCpu) {
        return new GrowthPoint(v.name(), pods, rssKb, rssKb - 20_000, idleCpu, 10.0, pods, 2 + 2 * pods, 1000 + 20L * pods);
    }

    @Test
    void fitsPerVariantAndJudgesTheMarginalCost() {
        // default: first pod costs 10 MiB, then 200 KiB per pod; tuned: 50 KiB per pod throughout.
        GrowthReport r = report(List.of(
                p(A, 0, 100_000, 0.0), p(B, 0, 80_000, 0.0),
                p(B, 50, 82_500, 0.01), p(A, 50, 120_240, 0.0),
                p(A, 100, 130_240, 0.0), p(B, 100, 85_000, 0.02)), List.of());
        assertThat(r.pointsOf("default")).extracting(GrowthPoint::pods).containsExactly(0, 50, 100);
        assertThat(r.marginalRssFit("default").slope()).isCloseTo(200.0, within(1e-9));
        assertThat(r.rssFit("tuned").slope()).isCloseTo(50.0, within(1e-9));
        assertThat(r.readyFit("tuned").slope()).isCloseTo(20.0, within(1e-9));

        String md = r.toMarkdown(List.of("results/growth-rss-vs-pods.png"));
        assertThat(md).contains("Written by `nodemesh bench growth --pods 0,50,100` on 2026-11-23T07:00:00 UTC (took 95 s)");
        assertThat(md).contains("| 50 | tuned | 80.6 MiB | 61.0 MiB | 0.10 % (0.01 CPU s in 10 s) | 50 | 102 | 2000 ms |");
        assertThat(md).contains("**tuned**: `MALLOC_ARENA_MAX=2 java -Xmx64m`");
        // default's marginal 200 KiB/pod = 204,800 B: over budget; tuned's 50 KiB = 51,200 B: within it.
        assertThat(md).contains("| default | ").contains("**not met** (204,800 B/pod)");
        assertThat(md).contains("**met** (51,200 B/pod)");
        assertThat(md).contains("**met** (at most 0.20 %)");
        assertThat(md).contains("![proxy RSS against captured pods](results/growth-rss-vs-pods.png)");
        assertThat(md).contains("- a note");
        assertThat(md).contains("100 pod namespaces created in 1.5 s (15.0 ms each)");
    }

    @Test
    void judgesIdleCpuAndTheLoadedRssTarget() {
        GrowthReport r = report(List.of(p(A, 0, 100_000, 0.0), p(A, 50, 101_000, 0.1)),
                List.of(new LoadPoint("default", "1000 req/s", 998.4, 150_000, 120_000, 151_000, 1.1, 12.0, 0),
                        new LoadPoint("tuned", "1000 req/s", 999, 60_000, 40_000, 62_000, 1.0, 12.0, 0),
                        new LoadPoint("tuned", "10000 req/s", 9_000, 61_000, 41_000, 62_500, 5.0, 12.0, 3)));
        String md = r.toMarkdown(List.of());
        // 0.1 CPU s in 10 s = 1 % of a core: above the 0.5 % line.
        assertThat(md).contains("**not met** (at most 1.00 %)");
        assertThat(md).contains("| default | 1000 req/s | 998 | 146.5 MiB | 117.2 MiB | 147.5 MiB | 1.10 | 0 | **not met** (peak 154.6 MB) |");
        assertThat(md).contains("| tuned | 1000 req/s | 999 | 58.6 MiB | 39.1 MiB | 60.5 MiB | 1.00 | 0 | **met** (peak 63.5 MB) |");
        assertThat(md).contains("| tuned | 10000 req/s | 9,000 | 59.6 MiB | 40.0 MiB | 61.0 MiB | 5.00 | 3 | — |");
        // tuned has no idle points: no fit row can be computed, and the table says so.
        assertThat(md).contains("| tuned | (needs two pod counts) |");
    }

    @Test
    void countsListeningPodsInStatsJson() {
        String json = "{\"pods\":[{\"pod\":\"g/p0\",\"state\":\"listening\"},{\"pod\":\"g/p1\",\"state\": \"failed\"},"
                + "{\"pod\":\"g/p2\",\"state\" : \"listening\"}]}";
        assertThat(GrowthBenchmark.countListening(json)).isEqualTo(2);
        assertThat(GrowthBenchmark.countListening("{\"pods\":[]}")).isZero();
    }
}
