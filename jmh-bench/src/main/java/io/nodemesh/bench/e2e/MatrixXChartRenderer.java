package io.nodemesh.bench.e2e;

import io.nodemesh.bench.harness.MatrixChartRenderer;
import io.nodemesh.bench.harness.MatrixReport;
import io.nodemesh.bench.harness.Measurement;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/** Draws the matrix as three PNGs: latency percentiles by connections, throughput/bulk/churn, CPU and memory. */
public final class MatrixXChartRenderer implements MatrixChartRenderer {

    @Override
    public List<Path> render(MatrixReport report, Path directory) throws IOException {
        System.setProperty("java.awt.headless", "true");
        List<String> ran = report.ran();
        if (ran.isEmpty()) {
            return List.of();
        }
        Files.createDirectories(directory);
        List<Path> files = new ArrayList<>();
        files.add(save(directory.resolve("matrix-latency.png"), latency(report, ran), 2, 2));
        files.add(save(directory.resolve("matrix-throughput.png"), throughput(report, ran), 1, 3));
        files.add(save(directory.resolve("matrix-cpu-memory.png"), resources(report, ran), 1, 2));
        return files;
    }

    private static List<Chart<?, ?>> latency(MatrixReport r, List<String> ran) {
        List<Chart<?, ?>> charts = new ArrayList<>();
        String[] names = {"p50", "p90", "p99", "p999"};
        List<ToDoubleFunction<Measurement>> fs = List.of(m -> m.p50Us(), m -> m.p90Us(), m -> m.p99Us(), m -> m.p999Us());
        for (int i = 0; i < names.length; i++) {
            XYChart c = new XYChartBuilder().width(640).height(420)
                    .title(names[i] + " at " + Math.round(r.options().rate()) + " req/s (CO-corrected)")
                    .xAxisTitle("connections").yAxisTitle("µs (log)").build();
            c.getStyler().setXAxisLogarithmic(true);
            c.getStyler().setYAxisLogarithmic(true);
            c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
            c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
            for (String s : ran) {
                List<Double> xs = new ArrayList<>();
                List<Double> ys = new ArrayList<>();
                for (int conns : r.options().latencyConnections()) {
                    Optional<Measurement> m = r.median(Measurement.LATENCY, conns, s);
                    if (m.isPresent() && fs.get(i).applyAsDouble(m.get()) > 0) {
                        xs.add((double) conns);
                        ys.add(fs.get(i).applyAsDouble(m.get()));
                    }
                }
                if (!xs.isEmpty()) {
                    c.addSeries(s, xs, ys).setMarker(SeriesMarkers.CIRCLE);
                }
            }
            charts.add(c);
        }
        return charts;
    }

    private static List<Chart<?, ?>> throughput(MatrixReport r, List<String> ran) {
        CategoryChart wrk = category("Max throughput (wrk)", "connections", "requests/s");
        for (String s : ran) {
            addSeries(wrk, s, r, Measurement.THROUGHPUT, r.options().wrkConnections());
        }
        CategoryChart bulk = category("Bulk transfer (push)", "streams", "Gbit/s");
        for (String s : ran) {
            addSeries(bulk, s, r, Measurement.BULK, r.options().bulkStreams());
        }
        CategoryChart churn = category("Connection churn", "subject", "new connections/s");
        churn.getStyler().setLegendVisible(false);
        List<String> names = new ArrayList<>();
        List<Double> vs = new ArrayList<>();
        for (String s : ran) {
            r.median(Measurement.CHURN, r.options().churnThreads(), s).ifPresent(m -> {
                names.add(s);
                vs.add(m.value());
            });
        }
        if (!names.isEmpty()) {
            churn.addSeries("conns/s", names, vs);
        }
        return List.of(wrk, bulk, churn);
    }

    private static List<Chart<?, ?>> resources(MatrixReport r, List<String> ran) {
        CategoryChart cpu = category("Proxy vCPU per 1000 req/s (fixed rate, median over conns)", "subject", "vCPU");
        cpu.getStyler().setLegendVisible(false);
        cpu.getStyler().setDecimalPattern("0.0000");
        List<String> names = new ArrayList<>();
        List<Double> vs = new ArrayList<>();
        CategoryChart mem = category("Proxy memory", "subject", "MiB");
        List<String> mnames = new ArrayList<>();
        List<Double> steady = new ArrayList<>();
        List<Double> peak = new ArrayList<>();
        for (String s : ran) {
            double[] v = r.options().latencyConnections().stream().map(c -> r.median(Measurement.LATENCY, c, s))
                    .flatMap(Optional::stream).mapToDouble(Measurement::cpuPer1000).filter(d -> !Double.isNaN(d)).sorted().toArray();
            if (v.length > 0) {
                names.add(s);
                vs.add(v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2);
            }
            MatrixReport.Memory m = r.memory().get(s);
            if (m != null) {
                mnames.add(s);
                steady.add(m.steadyRssKb() / 1024.0);
                peak.add(m.peakRssKb() / 1024.0);
            }
        }
        if (!names.isEmpty()) {
            cpu.addSeries("vCPU per 1000 req/s", names, vs);
        }
        if (!mnames.isEmpty()) {
            mem.addSeries("steady RSS", mnames, steady);
            mem.addSeries("peak RSS", mnames, peak);
        }
        return List.of(cpu, mem);
    }

    private static void addSeries(CategoryChart c, String s, MatrixReport r, String scenario, List<Integer> params) {
        List<String> xs = new ArrayList<>();
        List<Double> ys = new ArrayList<>();
        for (int p : params) {
            xs.add(Integer.toString(p));
            ys.add(r.median(scenario, p, s).map(Measurement::value).orElse(0.0));
        }
        c.addSeries(s, xs, ys);
    }

    private static CategoryChart category(String title, String x, String y) {
        CategoryChart c = new CategoryChartBuilder().width(640).height(420).title(title).xAxisTitle(x).yAxisTitle(y).build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
        c.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
        c.getStyler().setYAxisMin(0.0);
        c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(12f));
        return c;
    }

    private static Path save(Path file, List<Chart<?, ?>> charts, int rows, int cols) throws IOException {
        try (OutputStream out = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(new ArrayList<>(charts), rows, cols, out, BitmapEncoder.BitmapFormat.PNG);
        }
        return file;
    }
}
