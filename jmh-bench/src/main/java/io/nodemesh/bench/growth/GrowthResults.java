package io.nodemesh.bench.growth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Writes a growth report's charts into {@code results/} beside the results file and rewrites its growth section. */
final class GrowthResults {

    static final String SECTION = "growth";

    private GrowthResults() {
    }

    static List<Path> write(GrowthReport report) throws IOException {
        Path out = report.options().out().toAbsolutePath();
        Path dir = out.getParent();
        Path chartDir = dir.resolve("results");
        Files.createDirectories(chartDir);
        List<Path> written = new ArrayList<>();
        List<String> charts = new ArrayList<>();
        List<String> notes = new ArrayList<>(report.notes());
        List<GrowthChartRenderer> renderers = ServiceLoader.load(GrowthChartRenderer.class).stream()
                .map(ServiceLoader.Provider::get).toList();
        if (renderers.isEmpty()) {
            notes.add("no chart: no GrowthChartRenderer on the classpath (the XChart one is in jmh-bench; run "
                    + "io.nodemesh.bench.growth.GrowthBench from jmh-bench/target/benchmarks.jar for charts)");
        }
        for (GrowthChartRenderer r : renderers) {
            for (Path p : r.render(report, chartDir)) {
                written.add(p);
                charts.add(dir.relativize(p.toAbsolutePath()).toString());
            }
        }
        String existing = Files.exists(out) ? Files.readString(out) : "";
        String updated = MarkedSection.replace(existing, SECTION, report.withNotes(notes).toMarkdown(charts));
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        Files.writeString(tmp, updated);
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        written.add(out);
        return written;
    }
}
