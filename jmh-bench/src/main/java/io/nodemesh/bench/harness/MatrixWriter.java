package io.nodemesh.bench.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Writes a matrix run's charts into {@code results/} beside the results file and rewrites the file's matrix section. */
public final class MatrixWriter {

    private MatrixWriter() {
    }

    /** Returns the files written. */
    public static List<Path> write(MatrixReport report) throws IOException {
        Path out = report.options().out().toAbsolutePath();
        Path dir = out.getParent();
        List<Path> written = new ArrayList<>();
        List<String> charts = new ArrayList<>();
        List<String> notes = new ArrayList<>(report.notes());
        List<MatrixChartRenderer> renderers = ServiceLoader.load(MatrixChartRenderer.class).stream()
                .map(ServiceLoader.Provider::get).toList();
        if (renderers.isEmpty()) {
            notes.add("no charts: no MatrixChartRenderer on the classpath (the XChart one is in jmh-bench: run "
                    + "io.nodemesh.bench.e2e.MatrixBench from jmh-bench/target/benchmarks.jar)");
        }
        Path chartDir = dir.resolve("results");
        Files.createDirectories(chartDir);
        for (MatrixChartRenderer r : renderers) {
            for (Path p : r.render(report, chartDir)) {
                written.add(p);
                charts.add(dir.relativize(p.toAbsolutePath()).toString());
            }
        }
        MatrixReport withNotes = new MatrixReport(report.machine(), report.options(), report.started(), report.took(),
                report.descriptions(), report.unavailable(), report.measurements(), report.memory(), notes);
        String existing = Files.exists(out) ? Files.readString(out) : "";
        String updated = MatrixMarkdown.replaceSection(existing, MatrixMarkdown.render(withNotes, charts));
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        Files.writeString(tmp, updated);
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        written.add(out);
        return written;
    }
}
