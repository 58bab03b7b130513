package io.nodemesh.bench.report;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.bench.harness.Machine;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A real (tiny, in-process) JMH run through {@link MicroBenchmarks} into the rows and the section's table. */
class MicroSectionTest {

    private static MicroBenchmarks.Run run;

    @BeforeAll
    static void runTinyJmh() throws Exception {
        // In-process (0 forks) and a few hundred milliseconds: the structure, not the figures, is under test.
        MicroBenchmarks.Settings s = new MicroBenchmarks.Settings(List.of("PodLookupBenchmark\\.miss"), List.of(), 0, 1,
                Duration.ofMillis(100), 2, Duration.ofMillis(100));
        run = MicroBenchmarks.run(s, new PrintStream(OutputStream.nullOutputStream()));
    }

    @Test
    void everyParameterOfTheIncludedBenchmarkBecomesARowWithItsScoreAndAllocation() {
        List<MicroRow> rows = run.rows();

        assertThat(run.missing()).isEmpty();
        assertThat(rows).extracting(MicroRow::benchmark).containsOnly("PodLookupBenchmark.miss");
        assertThat(rows).extracting(MicroRow::params).containsExactlyInAnyOrder("pods=10", "pods=100", "pods=1000");
        assertThat(rows).allSatisfy(r -> {
            assertThat(r.unit()).isEqualTo("ns/op");
            assertThat(r.score()).isPositive();
            assertThat(r.allocNorm()).as("gc.alloc.rate.norm from the GC profiler").isNotNaN().isGreaterThanOrEqualTo(0);
            assertThat(r.settings()).isEqualTo("0 forks, warm-up 1 × 100 ms, measurement 2 × 100 ms, mode avgt, 1 thread");
        });
        // The row carries exactly what JMH measured.
        assertThat(rows.getFirst().score()).isEqualTo(run.results().iterator().next().getPrimaryResult().getScore());
    }

    @Test
    void theSectionHasOneTableRowPerResultWithItsFiguresAndTheOptionsAndSkips() {
        List<MicroRow> rows = run.rows();
        RunStamp stamp = new RunStamp("bench-report --quick", Instant.parse("2026-11-23T08:00:00Z"), Duration.ofSeconds(42),
                new Machine(2, "6.18", "AMD EPYC", "Temurin 25", "-", "-"), "1.00 / 2.00 / 3.00", "1.50 / 2.00 / 3.00");

        String md = MicroSection.render(stamp, rows, Map.of("NamespaceEntryBenchmark", "needs root"),
                List.of("results/jmh-micro.json"));

        assertThat(md).contains("Written by `bench-report --quick` on 2026-11-23 08:00:00 UTC (took 42 s)");
        assertThat(md).contains("- JMH options: 0 forks, warm-up 1 × 100 ms, measurement 2 × 100 ms, mode avgt, 1 thread, profiler `gc`");
        assertThat(md).contains("- not run: NamespaceEntryBenchmark (needs root)");
        assertThat(md).contains("[`results/jmh-micro.json`](results/jmh-micro.json)");
        List<String> tableRows = md.lines().filter(l -> l.startsWith("| PodLookupBenchmark.")).toList();
        assertThat(tableRows).hasSize(rows.size());
        for (MicroRow r : rows) {
            String line = tableRows.stream().filter(l -> l.contains("| " + r.params() + " |")).findFirst().orElseThrow();
            String[] cells = line.substring(2, line.length() - 2).split(" \\| ");
            assertThat(cells).hasSize(6);
            assertThat(cells[0]).isEqualTo("PodLookupBenchmark.miss");
            assertThat(cells[2]).isEqualTo(MicroSection.withError(r.score(), r.error()));
            assertThat(cells[3]).isEqualTo("ns/op");
            assertThat(cells[4]).isEqualTo(MicroSection.withError(r.allocNorm(), r.allocError()) + " B");
        }
        int header = md.indexOf("| benchmark | params | score ± error | unit | allocated per op | other results |");
        assertThat(header).isPositive().isLessThan(md.indexOf(tableRows.getFirst()));
    }

    @Test
    void rawOutputsNameEveryBenchmarkRun(@TempDir Path dir) throws Exception {
        List<Path> files = MicroBenchmarks.writeRaw(run.results(), dir.resolve("results"));

        assertThat(files).containsExactly(dir.resolve("results/" + MicroBenchmarks.JSON), dir.resolve("results/" + MicroBenchmarks.TEXT));
        String json = Files.readString(files.get(0));
        assertThat(json).contains("\"benchmark\" : \"io.nodemesh.bench.snapshot.PodLookupBenchmark.miss\"")
                .contains("gc.alloc.rate.norm").contains("\"pods\" : \"1000\"");
        assertThat(Files.readString(files.get(1))).contains("PodLookupBenchmark.miss");
    }
}
