package io.nodemesh.bench.harness;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.DoubleFunction;
import java.util.function.ToDoubleFunction;

/**
 * Issue 3's comparison in the matrix report: the proxy with telemetry on ({@code nodemesh-telemetry})
 * against the same proxy with it off ({@code nodemesh}), figure by figure. Each round gives one
 * on/off ratio from runs made side by side in the same step; the table shows their median and
 * range, and the off subject's own round-to-round spread as the yardstick for noise: a difference
 * smaller than that spread cannot be told from the machine's drift.
 */
public final class TelemetryOnOff {

    public static final String OFF = "nodemesh";
    public static final String ON = "nodemesh-telemetry";
    /**
     * The A/A control: a second proxy with telemetry off, its own captured client pod, run beside the other two. Its
     * ratio to {@link #OFF}, judged by the same rule, shows how many "beyond noise" verdicts noise alone gives.
     */
    public static final String AGAIN = "nodemesh-again";

    private TelemetryOnOff() {
    }

    /** Appends the comparison under {@code heading} when both subjects produced figures, nothing otherwise. */
    public static void table(StringBuilder md, MatrixReport r, String heading) {
        if (!r.ran().contains(ON) || !r.ran().contains(OFF)) {
            return;
        }
        MatrixOptions o = r.options();
        boolean control = r.ran().contains(AGAIN);
        md.append(heading).append("\n\n");
        md.append("`nodemesh-telemetry` is `nodemesh` with every connection reported to a `nodemesh agent` on the same core. "
                + "on/off = the two subjects' figures in the same step of the same round; the median and range are over the "
                + o.rounds() + " round(s). \"off's spread\" = max/min of the off subject's own figure over the rounds, the "
                + "noise a difference has to exceed to be measurable. Lower is better for latency and CPU, higher for the rest.");
        if (control) {
            md.append(" The A/A columns judge `nodemesh-again` (a second proxy with telemetry off, its own captured client "
                    + "pod, in the same steps) against `nodemesh` by the same rule: two identical subjects, so every "
                    + "\"differs beyond noise\" there is noise, and their count is what the on/off column can be expected "
                    + "to show with no real difference.");
        }
        md.append("\n\n| figure | off | on | on/off (median of rounds) | on/off range | off's spread | verdict |"
                + (control ? " A/A: again/off (median) | A/A range | A/A verdict |" : "") + "\n");
        md.append("|---|---:|---:|---:|---:|---:|---|" + (control ? "---:|---:|---|" : "") + "\n");
        List<Row> rows = new ArrayList<>();
        for (int c : o.latencyConnections()) {
            rows.add(row(r, Measurement.LATENCY, c, "fixed-rate p50, " + c + " conns", m -> m.p50Us(), MatrixMarkdown::us));
            rows.add(row(r, Measurement.LATENCY, c, "fixed-rate p99, " + c + " conns", m -> m.p99Us(), MatrixMarkdown::us));
            rows.add(row(r, Measurement.LATENCY, c, "proxy CPU s per 1000 req, " + c + " conns", Measurement::cpuPer1000,
                    v -> MatrixMarkdown.num(v, 4)));
        }
        for (int c : o.wrkConnections()) {
            rows.add(row(r, Measurement.THROUGHPUT, c, "wrk req/s, " + c + " conns", Measurement::value, MatrixMarkdown::rate));
        }
        for (int s : o.bulkStreams()) {
            rows.add(row(r, Measurement.BULK, s, "bulk Gbit/s, " + s + " streams", Measurement::value, v -> MatrixMarkdown.num(v, 2)));
        }
        rows.add(row(r, Measurement.CHURN, o.churnThreads(), "churn conns/s", Measurement::value, MatrixMarkdown::rate));
        // A churned connection's own time (connect, one request/response, close): where a reporting thread that
        // preempts the proxy's event loop shows first.
        rows.add(row(r, Measurement.CHURN, o.churnThreads(), "churn p50 per connection", m -> m.p50Us(), MatrixMarkdown::us));
        rows.add(row(r, Measurement.CHURN, o.churnThreads(), "churn p99 per connection", m -> m.p99Us(), MatrixMarkdown::us));
        rows.add(row(r, Measurement.CHURN, o.churnThreads(), "proxy CPU s per 1000 churned conns", Measurement::cpuPer1000,
                v -> MatrixMarkdown.num(v, 3)));
        int within2 = 0;
        int withinNoise = 0;
        int counted = 0;
        int controlCounted = 0;
        int controlWithinNoise = 0;
        for (Row row : rows) {
            md.append(row.markdown());
            if (!Double.isNaN(row.ratio())) {
                counted++;
                within2 += Math.abs(row.ratio() - 1) < 0.02 ? 1 : 0;
                withinNoise += row.withinNoise() ? 1 : 0;
            }
            if (!Double.isNaN(row.controlRatio())) {
                controlCounted++;
                controlWithinNoise += row.controlWithinNoise() ? 1 : 0;
            }
        }
        md.append(String.format(Locale.ROOT, "%nOf %d figures, %d differ by less than 2 %% and %d by less than the off "
                + "subject's own spread over the rounds.", counted, within2, withinNoise));
        if (control) {
            md.append(String.format(Locale.ROOT, " A/A control: %d of %d within that spread, %d beyond it with no "
                    + "difference between the subjects.", controlWithinNoise, controlCounted, controlCounted - controlWithinNoise));
        }
        md.append("\n\n");
        ownCpu(md, r);
    }

    /**
     * Telemetry's own CPU in the on subject's runs, counted apart from the proxy's: a cost figure that does not depend
     * on comparing two runs, so the machine's drift does not hide it.
     */
    private static void ownCpu(StringBuilder md, MatrixReport r) {
        MatrixOptions o = r.options();
        List<Step> steps = new ArrayList<>();
        for (int c : o.latencyConnections()) {
            steps.add(new Step(Measurement.LATENCY, c, "fixed rate, " + c + " conns", "requests"));
        }
        for (int c : o.wrkConnections()) {
            steps.add(new Step(Measurement.THROUGHPUT, c, "wrk, " + c + " conns", "requests"));
        }
        for (int s : o.bulkStreams()) {
            steps.add(new Step(Measurement.BULK, s, "bulk, " + s + " streams", null));
        }
        steps.add(new Step(Measurement.CHURN, o.churnThreads(), "churn", "connections"));
        StringBuilder rows = new StringBuilder();
        double worst = Double.NaN;
        for (Step step : steps) {
            List<Double> shares = new ArrayList<>();
            for (int round = 0; round < o.rounds(); round++) {
                run(r, step.scenario(), step.param(), ON, round).map(Measurement::telemetryShare)
                        .filter(v -> !Double.isNaN(v)).ifPresent(shares::add);
            }
            Optional<Measurement> on = r.median(step.scenario(), step.param(), ON);
            if (shares.isEmpty() || on.isEmpty()) {
                continue;
            }
            double share = median(shares);
            worst = Double.isNaN(worst) ? share : Math.max(worst, share);
            Measurement m = on.get();
            // cpuPer1000 / cpuSeconds = 1000 / units: the telemetry's CPU per 1000 units from the same run's count.
            String per1000 = step.unit() == null || !(m.cpuSeconds() > 0) ? "—"
                    : MatrixMarkdown.num(m.telemetryCpuSeconds() * m.cpuPer1000() / m.cpuSeconds() * 1000, 2) + " ms per 1000 "
                    + step.unit();
            rows.append("| ").append(step.label()).append(" | ").append(MatrixMarkdown.num(m.telemetryCpuSeconds(), 3))
                    .append(" | ").append(MatrixMarkdown.num(m.cpuSeconds(), 2)).append(" | ")
                    .append(percent(share)).append(" | ")
                    .append(percent(shares.stream().mapToDouble(Double::doubleValue).min().orElseThrow())).append(" … ")
                    .append(percent(shares.stream().mapToDouble(Double::doubleValue).max().orElseThrow()))
                    .append(" | ").append(per1000).append(" |\n");
        }
        if (rows.isEmpty()) {
            return;
        }
        md.append("#### Telemetry's own CPU, counted apart in the same runs\n\n");
        md.append("CPU of the `nodemesh agent` process plus the proxy's reporting threads (`telemetry-reporter` and its gRPC "
                + "client's event loop; every thread's CPU time from `/proc/<pid>/task/<tid>/schedstat`, in nanoseconds), against all of `nodemesh-telemetry`'s CPU in the "
                + "same run (proxy + agent), both over the load tool's measured window (after its warm-up; wrk: its whole "
                + "run). Not included: the event loop's two queue offers per connection (JMH "
                + "`ClosedOfferBenchmark`). Medians over the rounds.\n\n");
        md.append("| step | telemetry CPU s | subject CPU s | telemetry's share (median) | share range | telemetry CPU per 1000 |\n");
        md.append("|---|---:|---:|---:|---:|---:|\n");
        md.append(rows);
        md.append(String.format(Locale.ROOT, "%nLargest median share: %s of the subject's CPU.%n%n", percent(worst)));
    }

    /** One step of the run: its scenario and parameter, its row label, and what its CPU is per (null: nothing counted). */
    private record Step(String scenario, int param, String label, String unit) {
    }

    private static String percent(double share) {
        return String.format(Locale.ROOT, "%.2f %%", share * 100);
    }

    /**
     * One figure.
     *
     * @param ratio median over rounds of on/off, NaN when no round has both
     * @param withinNoise whether that median is within the off subject's own spread over the rounds
     * @param controlRatio median over rounds of again/off (the A/A control), NaN without the control
     * @param controlWithinNoise whether that median is within the same spread
     */
    private record Row(String markdown, double ratio, boolean withinNoise, double controlRatio,
                       boolean controlWithinNoise) {
    }

    /** One subject's figure against the off subject's, round by round: the ratios' median and range. */
    private record Ratios(double median, String range) {

        static Ratios of(MatrixReport r, String scenario, int param, String subject, ToDoubleFunction<Measurement> f) {
            List<Double> ratios = new ArrayList<>();
            for (int round = 0; round < r.options().rounds(); round++) {
                Optional<Measurement> a = run(r, scenario, param, subject, round);
                Optional<Measurement> b = run(r, scenario, param, OFF, round);
                if (a.isPresent() && b.isPresent()) {
                    double va = f.applyAsDouble(a.get());
                    double vb = f.applyAsDouble(b.get());
                    if (positive(va) && positive(vb)) {
                        ratios.add(va / vb);
                    }
                }
            }
            String range = ratios.isEmpty() ? "—"
                    : MatrixMarkdown.x(ratios.stream().mapToDouble(Double::doubleValue).min().orElseThrow()) + " … "
                    + MatrixMarkdown.x(ratios.stream().mapToDouble(Double::doubleValue).max().orElseThrow());
            return new Ratios(TelemetryOnOff.median(ratios), range);
        }

        boolean withinNoise(double spread) {
            return !Double.isNaN(median) && !Double.isNaN(spread) && Math.abs(median - 1) <= spread - 1;
        }

        String verdict(double spread) {
            return Double.isNaN(median) ? "no figure"
                    : Double.isNaN(spread) ? (Math.abs(median - 1) < 0.02 ? "< 2 % (one round: noise unknown)"
                            : "differs (one round: noise unknown)")
                    : withinNoise(spread) ? (Math.abs(median - 1) < 0.02 ? "within noise, < 2 %" : "within noise")
                    : "differs beyond noise";
        }
    }

    private static Row row(MatrixReport r, String scenario, int param, String what, ToDoubleFunction<Measurement> f,
                           DoubleFunction<String> format) {
        Optional<Measurement> off = r.median(scenario, param, OFF);
        Optional<Measurement> on = r.median(scenario, param, ON);
        List<Double> offs = new ArrayList<>();
        for (int round = 0; round < r.options().rounds(); round++) {
            run(r, scenario, param, OFF, round).map(f::applyAsDouble).filter(TelemetryOnOff::positive).ifPresent(offs::add);
        }
        double spread = offs.size() < 2 ? Double.NaN
                : offs.stream().mapToDouble(Double::doubleValue).max().orElseThrow()
                        / offs.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
        Ratios onOff = Ratios.of(r, scenario, param, ON, f);
        String md = "| " + what + " | " + off.map(f::applyAsDouble).map(format::apply).orElse("—") + " | "
                + on.map(f::applyAsDouble).map(format::apply).orElse("—") + " | " + MatrixMarkdown.x(onOff.median()) + " | "
                + onOff.range() + " | " + (Double.isNaN(spread) ? "—" : MatrixMarkdown.x(spread)) + " | "
                + onOff.verdict(spread) + " |";
        Ratios control = new Ratios(Double.NaN, "—");
        if (r.ran().contains(AGAIN)) {
            control = Ratios.of(r, scenario, param, AGAIN, f);
            md += " " + MatrixMarkdown.x(control.median()) + " | " + control.range() + " | " + control.verdict(spread) + " |";
        }
        return new Row(md + "\n", onOff.median(), onOff.withinNoise(spread), control.median(),
                control.withinNoise(spread));
    }

    private static Optional<Measurement> run(MatrixReport r, String scenario, int param, String subject, int round) {
        return r.measurements().stream().filter(m -> m.ok() && m.round() == round && m.scenario().equals(scenario)
                && m.param() == param && m.subject().equals(subject)).findFirst();
    }

    private static boolean positive(double v) {
        return !Double.isNaN(v) && v > 0;
    }

    private static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        double[] v = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(v);
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }
}
