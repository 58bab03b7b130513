package io.nodemesh.bench.e2e;

import io.nodemesh.bench.harness.BenchReport;
import io.nodemesh.bench.harness.ChartRenderer;
import io.nodemesh.bench.harness.SubjectSummary;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.style.Styler;

/** Draws the e2e run as one PNG: requests/s per subject beside p50/p99 latency per subject. */
public final class XChartRenderer implements ChartRenderer {

    /** The chart's file name inside the results directory. */
    public static final String FILE = "e2e-throughput-latency.png";

    @Override
    public List<Path> render(BenchReport report, Path directory) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<SubjectSummary> ran = report.subjects().stream().filter(SubjectSummary::ran).toList();
        if (ran.isEmpty()) {
            return List.of();
        }
        List<String> names = ran.stream().map(SubjectSummary::name).toList();
        String load = "wrk -c" + report.options().connections() + ", " + report.options().bodyBytes() + " B body, "
                + report.options().rounds() + " × " + report.options().roundDuration().toSeconds() + " s";

        CategoryChart throughput = chart("Throughput (" + load + ")", "requests/s, median of rounds");
        throughput.getStyler().setLegendVisible(false);
        throughput.getStyler().setYAxisMin(0.0);
        throughput.addSeries("requests/s", names, ran.stream().map(s -> (double) Math.round(s.requestsPerSecond())).toList());

        // p99 under saturation can be 100× p50: a log axis keeps both readable.
        CategoryChart latency = chart("Latency (" + load + ")", "microseconds (log scale), median of rounds");
        latency.getStyler().setYAxisLogarithmic(true);
        latency.getStyler().setYAxisMin(10.0);
        latency.addSeries("p50", names, ran.stream().map(s -> (double) Math.round(s.p50Micros())).toList());
        latency.addSeries("p99", names, ran.stream().map(s -> (double) Math.round(s.p99Micros())).toList());

        Files.createDirectories(directory);
        Path file = directory.resolve(FILE);
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(List.of(throughput, latency), 1, 2, out, BitmapEncoder.BitmapFormat.PNG);
        }
        return List.of(file);
    }

    private static CategoryChart chart(String title, String yAxis) {
        CategoryChart c = new CategoryChartBuilder().width(640).height(420).title(title).xAxisTitle("subject").yAxisTitle(yAxis).build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        c.getStyler().setLabelsVisible(true);
        c.getStyler().setLabelsFontColorAutomaticEnabled(false);
        c.getStyler().setLabelsFontColor(java.awt.Color.BLACK);
        c.getStyler().setLabelsPosition(0.9);
        c.getStyler().setDecimalPattern("#,###");
        c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(13f));
        return c;
    }
}
