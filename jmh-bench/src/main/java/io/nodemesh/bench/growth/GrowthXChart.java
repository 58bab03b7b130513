package io.nodemesh.bench.growth;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Draws proxy RSS against captured pods, one measured series and its fitted line per JVM variant. */
public final class GrowthXChart implements GrowthChartRenderer {

    /** The chart's file name inside the results directory. */
    public static final String FILE = "growth-rss-vs-pods.png";

    @Override
    public List<Path> render(GrowthReport report, Path directory) throws IOException {
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(760).height(460).title("nodemesh proxy RSS against captured pods (idle)")
                .xAxisTitle("captured pods").yAxisTitle("RSS, MiB").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        chart.getStyler().setYAxisMin(0.0);
        chart.getStyler().setChartTitleFont(chart.getStyler().getChartTitleFont().deriveFont(13f));
        boolean any = false;
        for (var v : report.options().variants()) {
            List<GrowthPoint> ps = report.pointsOf(v.name());
            if (ps.isEmpty()) {
                continue;
            }
            any = true;
            List<Double> xs = ps.stream().map(p -> (double) p.pods()).toList();
            XYSeries measured = chart.addSeries(v.name() + " (measured)", xs, ps.stream().map(p -> p.rssKb() / 1024.0).toList());
            measured.setMarker(SeriesMarkers.CIRCLE);
            LinearFit fit = report.rssFit(v.name());
            if (fit != null) {
                double x0 = xs.get(0);
                double x1 = xs.get(xs.size() - 1);
                XYSeries line = chart.addSeries(String.format(Locale.ROOT, "%s fit: %.1f KiB/pod", v.name(), fit.slope()),
                        List.of(x0, x1), List.of((fit.intercept() + fit.slope() * x0) / 1024, (fit.intercept() + fit.slope() * x1) / 1024));
                line.setMarker(SeriesMarkers.NONE);
                line.setLineStyle(new java.awt.BasicStroke(1.5f, java.awt.BasicStroke.CAP_BUTT, java.awt.BasicStroke.JOIN_MITER,
                        10f, new float[] {6f, 4f}, 0f));
            }
        }
        if (!any) {
            return List.of();
        }
        Files.createDirectories(directory);
        Path file = directory.resolve(FILE);
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(chart, out, BitmapEncoder.BitmapFormat.PNG);
        }
        return List.of(file);
    }
}
