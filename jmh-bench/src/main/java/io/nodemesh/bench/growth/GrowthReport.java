package io.nodemesh.bench.growth;

import io.nodemesh.bench.harness.Machine;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * What a growth run measured, and its Markdown rendering (the {@code growth} section of RESULTS.md).
 *
 * @param machine where it ran
 * @param options how it ran
 * @param started wall-clock start
 * @param took whole run
 * @param podsCreated pod namespaces created
 * @param createMillis time spent creating them
 * @param points idle measurements, in the order they ran
 * @param loads loaded measurements, in the order they ran
 * @param notes remarks for the reader
 */
public record GrowthReport(Machine machine, GrowthOptions options, Instant started, Duration took, int podsCreated,
                           long createMillis, List<GrowthPoint> points, List<LoadPoint> loads, List<String> notes) {

    /** Issue 7's per-pod budget: 100 KB (10⁵ bytes) of proxy memory per captured pod. */
    static final double PER_POD_TARGET_BYTES = 100_000;
    /** Issue 7's node budget: 64 MB (64 × 10⁶ bytes) RSS at 1000 req/s. */
    static final double RSS_TARGET_BYTES = 64_000_000;
    /** "No idle CPU", read as: below 0.5 % of one core while nothing happens. */
    static final double IDLE_CORES_LIMIT = 0.005;

    public GrowthReport {
        points = List.copyOf(points);
        loads = List.copyOf(loads);
        notes = List.copyOf(notes);
    }

    GrowthReport withNotes(List<String> more) {
        return new GrowthReport(machine, options, started, took, podsCreated, createMillis, points, loads, more);
    }

    /** The points of one variant, by ascending pod count. */
    public List<GrowthPoint> pointsOf(String variant) {
        return points.stream().filter(p -> p.variant().equals(variant))
                .sorted(java.util.Comparator.comparingInt(GrowthPoint::pods)).toList();
    }

    /** RSS in KiB against captured pods for one variant (slope: KiB per pod); null with fewer than two counts. */
    public LinearFit rssFit(String variant) {
        List<GrowthPoint> ps = pointsOf(variant);
        if (ps.size() < 2) {
            return null;
        }
        return LinearFit.of(ps.stream().map(p -> (double) p.pods()).toList(), ps.stream().map(p -> (double) p.rssKb()).toList());
    }

    /**
     * RSS against pods over the counts above zero only: the marginal cost of one more pod, without the
     * one-off cost of the first (capture classes loaded, compiled); null with fewer than two such counts.
     */
    public LinearFit marginalRssFit(String variant) {
        List<GrowthPoint> ps = pointsOf(variant).stream().filter(p -> p.pods() > 0).toList();
        if (ps.size() < 2) {
            return null;
        }
        return LinearFit.of(ps.stream().map(p -> (double) p.pods()).toList(), ps.stream().map(p -> (double) p.rssKb()).toList());
    }

    /** Launch-to-all-listening time in ms against captured pods (slope: ms per pod); null with fewer than two counts. */
    public LinearFit readyFit(String variant) {
        List<GrowthPoint> ps = pointsOf(variant);
        if (ps.size() < 2) {
            return null;
        }
        return LinearFit.of(ps.stream().map(p -> (double) p.pods()).toList(), ps.stream().map(p -> (double) p.readyMillis()).toList());
    }

    /** The Markdown section body; {@code charts} are paths relative to the results file. */
    public String toMarkdown(List<String> charts) {
        StringBuilder md = new StringBuilder();
        md.append("## Growth with captured pods per node\n\n");
        md.append("Written by `").append(options.commandLine()).append("` on ")
                .append(DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss").format(started.atOffset(ZoneOffset.UTC)))
                .append(" UTC (took ").append(took.toSeconds()).append(" s). The command rewrites this section; do not edit it by hand.\n\n");
        md.append("- Machine: ").append(machine.cpus()).append(" CPUs, ").append(machine.cpuModel()).append(", Linux ")
                .append(machine.kernel()).append("; Java: ").append(machine.java()).append('\n');
        md.append("- Method: for each pod count the real proxy (`nodemesh.jar proxy --workers 1 --no-telemetry`, ")
                .append(options.proxyCpu() >= 0 ? "pinned to CPU " + options.proxyCpu() : "not pinned")
                .append(") starts with that many pods in its standalone config (`rules: iptables`: each pod gets its ")
                .append("nat rules and the :15001/:15006 listeners inside its own network namespace; a pod is a namespace ")
                .append("with lo up and a 10.77.x.y/32 address). *Ready* is launch (JVM start included) to every pod ")
                .append("`listening` in the admin `/stats`. After ").append(fmtSeconds(2)).append(" of settling, idle CPU ")
                .append("(utime + stime from `/proc/<pid>/stat`) is sampled over ").append(fmtSeconds(options.idle().toMillis() / 1000.0))
                .append(" with nothing happening; RSS is `VmRSS` at the end of that window; sockets are the `socket:[…]` ")
                .append("links in `/proc/<pid>/fd`. Variants alternate their order from one count to the next.\n");
        md.append("- ").append(podsCreated).append(" pod namespaces created in ").append(fmtSeconds(createMillis / 1000.0))
                .append(" (").append(podsCreated == 0 ? "—" : String.format(Locale.ROOT, "%.1f ms", createMillis / (double) podsCreated))
                .append(" each); all removed at the end (also on Ctrl-C, by a shutdown hook).\n");
        md.append("- JVM variants:\n");
        for (GrowthOptions.Variant v : options.variants()) {
            md.append("  - **").append(v.name()).append("**: `").append(v.describe()).append("`\n");
        }
        md.append('\n');

        md.append("| pods | variant | RSS | of it anonymous (RssAnon) | idle CPU (% of a core) | pods listening | sockets | ready in |\n");
        md.append("|---:|---|---:|---:|---:|---:|---:|---:|\n");
        for (int count : options.podCounts()) {
            for (GrowthOptions.Variant v : options.variants()) {
                for (GrowthPoint p : pointsOf(v.name())) {
                    if (p.pods() == count) {
                        md.append(String.format(Locale.ROOT, "| %d | %s | %s | %s | %.2f %% (%.2f CPU s in %.0f s) | %d | %d | %s |%n",
                                p.pods(), p.variant(), mib(p.rssKb()), mib(p.rssAnonKb()), p.idleCores() * 100, p.idleCpuSeconds(),
                                p.idleSeconds(), p.listeningPods(), p.sockets(), fmtMillis(p.readyMillis())));
                    }
                }
            }
        }
        md.append('\n');

        md.append("Least-squares fit over the pod counts (RSS = intercept + slope × pods):\n\n");
        md.append("| variant | RSS per captured pod, all counts | R² | RSS at 0 pods (fit) | RSS per pod, counts > 0 only | R² | ready time per pod | sockets per pod | target ≤ 100 KB/pod (counts > 0) | target: no idle CPU (< 0.5 % of a core) |\n");
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n");
        for (GrowthOptions.Variant v : options.variants()) {
            LinearFit rss = rssFit(v.name());
            LinearFit ready = readyFit(v.name());
            List<GrowthPoint> ps = pointsOf(v.name());
            if (rss == null) {
                md.append("| ").append(v.name()).append(" | (needs two pod counts) | | | | | | | | |\n");
                continue;
            }
            GrowthPoint first = ps.get(0);
            GrowthPoint last = ps.get(ps.size() - 1);
            double socketsPerPod = (last.sockets() - first.sockets()) / (double) (last.pods() - first.pods());
            double maxIdle = ps.stream().mapToDouble(GrowthPoint::idleCores).max().orElse(0);
            LinearFit marginal = marginalRssFit(v.name());
            LinearFit judged = marginal != null ? marginal : rss;
            md.append(String.format(Locale.ROOT, "| %s | %.1f KiB | %s | %s | %s | %s | %.1f ms | %.1f | %s | %s |%n", v.name(),
                    rss.slope(), r2(rss), mib(Math.round(rss.intercept())),
                    marginal == null ? "—" : String.format(Locale.ROOT, "%.1f KiB", marginal.slope()), marginal == null ? "—" : r2(marginal),
                    ready.slope(), socketsPerPod,
                    verdict(judged.slope() * 1024 <= PER_POD_TARGET_BYTES, String.format(Locale.ROOT, "%,.0f B/pod", judged.slope() * 1024)),
                    verdict(maxIdle < IDLE_CORES_LIMIT, String.format(Locale.ROOT, "at most %.2f %%", maxIdle * 100))));
        }
        md.append('\n');

        if (!loads.isEmpty()) {
            md.append("RSS under load: one captured client pod, `FixedRateClient` (1 KiB request, 1 KiB response, keep-alive; ")
                    .append(options.rate()).append(" req/s on 4 connections, then ").append(options.highRate()).append(" req/s on 16) → proxy → `LoadServer`, ")
                    .append(fmtSeconds(options.load().toMillis() / 1000.0)).append(" after a ")
                    .append(fmtSeconds(GrowthBenchmark.loadWarmup(options.load()).toSeconds())).append(" warm-up, load tools on the other core:\n\n");
            md.append("| variant | load | achieved req/s | RSS after | of it anonymous | peak RSS (VmHWM) | proxy CPU s | errors | target ≤ 64 MB at 1000 req/s |\n");
            md.append("|---|---|---:|---:|---:|---:|---:|---:|---|\n");
            for (LoadPoint l : loads) {
                String target = l.phase().equals(options.rate() + " req/s") && options.rate() == 1000
                        ? verdict(l.peakRssKb() * 1024.0 <= RSS_TARGET_BYTES, "peak " + String.format(Locale.ROOT, "%.1f MB", l.peakRssKb() * 1024 / 1e6))
                        : "—";
                md.append(String.format(Locale.ROOT, "| %s | %s | %,.0f | %s | %s | %s | %.2f | %d | %s |%n", l.variant(), l.phase(),
                        l.requestsPerSecond(), mib(l.rssKb()), mib(l.rssAnonKb()), mib(l.peakRssKb()), l.cpuSeconds(), l.errors(), target));
            }
            md.append('\n');
        }
        for (String c : charts) {
            md.append("![proxy RSS against captured pods](").append(c).append(")\n\n");
        }
        if (!notes.isEmpty()) {
            md.append("Notes:\n\n");
            notes.forEach(n -> md.append("- ").append(n).append('\n'));
        }
        return md.toString();
    }

    static String r2(LinearFit fit) {
        return Double.isNaN(fit.r2()) ? "—" : String.format(Locale.ROOT, "%.3f", fit.r2());
    }

    static String verdict(boolean met, String figure) {
        return (met ? "**met** (" : "**not met** (") + figure + ")";
    }

    static String mib(long kib) {
        return String.format(Locale.ROOT, "%.1f MiB", kib / 1024.0);
    }

    static String fmtSeconds(double s) {
        return s == Math.rint(s) ? String.format(Locale.ROOT, "%.0f s", s) : String.format(Locale.ROOT, "%.1f s", s);
    }

    static String fmtMillis(long ms) {
        return ms < 10_000 ? ms + " ms" : String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }
}
