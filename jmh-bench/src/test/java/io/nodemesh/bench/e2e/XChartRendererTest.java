package io.nodemesh.bench.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.bench.harness.BenchOptions;
import io.nodemesh.bench.harness.BenchReport;
import io.nodemesh.bench.harness.Machine;
import io.nodemesh.bench.harness.ResultsWriter;
import io.nodemesh.bench.harness.SubjectSummary;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class XChartRendererTest {

    private static BenchReport report(Path out) {
        BenchOptions options = new BenchOptions(Duration.ofSeconds(5), Duration.ofSeconds(2), 2, 16, 1024,
                BenchOptions.ALL_SUBJECTS, out, Path.of("nodemesh.jar"), "epoll", 1, 0, 0, false, "nodemesh bench --quick");
        return new BenchReport(new Machine(2, "6.18", "AMD EPYC", "Temurin 25", "HAProxy 2.6", "wrk 4.1"), options,
                Instant.parse("2026-11-23T06:00:00Z"), Duration.ofSeconds(50),
                List.of(new SubjectSummary("direct", "d", 2, 40_000, 320, 410, 900, 400_000, 10, Double.NaN, -1, -1, 0, null),
                        SubjectSummary.unavailable("nodemesh", "n", "not built"),
                        new SubjectSummary("haproxy", "h", 2, 38_000, 340, 560, 1_900, 380_000, 10, 8.4, 14_745, 14_745, 0, null)),
                List.of(), List.of());
    }

    @Test
    void drawsThroughputBesideLatencyAsOnePng(@TempDir Path dir) throws Exception {
        List<Path> files = new XChartRenderer().render(report(dir.resolve("RESULTS.md")), dir.resolve("results"));

        assertThat(files).containsExactly(dir.resolve("results").resolve(XChartRenderer.FILE));
        BufferedImage png = ImageIO.read(files.getFirst().toFile());
        assertThat(png.getWidth()).isEqualTo(2 * 640);
        assertThat(png.getHeight()).isEqualTo(420);
    }

    @Test
    void isFoundByTheHarnessAndLinkedFromTheResultsFile(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("RESULTS.md");
        Files.writeString(out, "# Results\n\nhand-written intro\n");

        List<Path> written = ResultsWriter.write(report(out));

        assertThat(written).contains(dir.resolve("results").resolve(XChartRenderer.FILE), out);
        String md = Files.readString(out);
        assertThat(md).startsWith("# Results\n\nhand-written intro\n\n<!-- e2e:begin -->");
        assertThat(md).contains("](results/" + XChartRenderer.FILE + ")").doesNotContain("no chart:");
    }
}
