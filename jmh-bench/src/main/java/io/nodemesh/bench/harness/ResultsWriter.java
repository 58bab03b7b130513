package io.nodemesh.bench.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Writes a report's charts next to the results file and rewrites the file's e2e section. */
public final class ResultsWriter {

    private ResultsWriter() {
    }

    /** Writes charts into {@code <dir of out>/results/} and the section into {@code out}; returns what it wrote. */
    public static List<Path> write(BenchReport report) throws IOException {
        Path out = report.options().out().toAbsolutePath();
        Path dir = out.getParent();
        List<Path> written = new ArrayList<>();
        List<String> charts = new ArrayList<>();
        List<String> notes = new ArrayList<>(report.notes());
        List<ChartRenderer> renderers = ServiceLoader.load(ChartRenderer.class).stream().map(ServiceLoader.Provider::get).toList();
        if (renderers.isEmpty()) {
            notes.add("no chart: no ChartRenderer on the classpath (the XChart one is in jmh-bench; run "
                    + "io.nodemesh.bench.e2e.EndToEndBench from jmh-bench/target/benchmarks.jar for charts)");
        }
        Path chartDir = dir.resolve("results");
        Files.createDirectories(chartDir);
        for (ChartRenderer r : renderers) {
            for (Path p : r.render(report, chartDir)) {
                written.add(p);
                charts.add(dir.relativize(p.toAbsolutePath()).toString());
            }
        }
        BenchReport withNotes = new BenchReport(report.machine(), report.options(), report.started(), report.took(),
                report.subjects(), report.rounds(), notes);
        String existing = Files.exists(out) ? Files.readString(out) : "";
        String updated = MarkdownReport.replaceSection(existing, MarkdownReport.render(withNotes, charts));
        Path tmp = out.resolveSibling(out.getFileName() + ".tmp");
        Files.writeString(tmp, updated);
        Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        written.add(out);
        return written;
    }
}
