package io.nodemesh.bench.harness;

import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** Renders a {@link BenchReport} as the Markdown section of {@code RESULTS.md}. */
public final class MarkdownReport {

    /** Marks the start of the section this harness owns in the results file. */
    public static final String BEGIN = "<!-- e2e:begin -->";
    /** Marks its end. */
    public static final String END = "<!-- e2e:end -->";

    private MarkdownReport() {
    }

    /** The whole section, markers included; {@code charts} are paths relative to the results file. */
    public static String render(BenchReport report, List<String> charts) {
        StringBuilder md = new StringBuilder();
        BenchOptions o = report.options();
        Machine m = report.machine();
        md.append(BEGIN).append('\n');
        md.append("## End-to-end: wrk direct vs through nodemesh vs through HAProxy\n\n");
        md.append("Written by `").append(o.commandLine()).append("` on ")
                .append(DateTimeFormatter.ISO_LOCAL_DATE_TIME.format(report.started().atOffset(ZoneOffset.UTC).withNano(0)))
                .append(" UTC (took ").append(report.took().toSeconds()).append(" s). The command rewrites this section; do not edit it by hand.\n\n");
        md.append("- Machine: ").append(m.cpus()).append(" CPUs, ").append(m.cpuModel()).append(", Linux ").append(m.kernel()).append('\n');
        md.append("- Java: ").append(m.java()).append("; HAProxy: ").append(m.haproxy()).append("; wrk: ").append(m.wrk()).append('\n');
        md.append("- Load: `wrk -t1 -c").append(o.connections()).append(" -d").append(o.roundDuration().toSeconds())
                .append("s --latency` GET, ").append(o.bodyBytes()).append("-byte response body, HTTP/1.1 keep-alive; ")
                .append(o.rounds()).append(" measured round(s) per subject in alternating order (ABC CBA ...), after a ")
                .append(o.warmup().toSeconds()).append(" s warm-up of each. Figures are medians over rounds.\n");
        md.append("- Cores: proxy and HAProxy pinned to CPU ").append(o.proxyCpu())
                .append(" (`taskset`; proxy `--workers 1 --transport ").append(o.transport())
                .append("`, HAProxy `nbthread 1`, `mode tcp`); wrk and the HTTP server (Netty, its own JVM) pinned to CPU ")
                .append(o.loadCpu()).append(o.nice() == 0 ? "" : "; all of them at niceness " + o.nice()).append(".\n\n");

        Optional<SubjectSummary> direct = report.ran("direct");
        md.append("| subject | path | req/s | p50 | p90 | p99 | added p50 | process CPU s | its core busy | vCPU per 1000 req/s | RSS / peak RSS | errors |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (SubjectSummary s : report.subjects()) {
            if (!s.ran()) {
                md.append("| ").append(s.name()).append(" | ").append(s.description()).append(" | not run: ")
                        .append(s.unavailable().lines().findFirst().orElse("").replace("|", "\\|"))
                        .append(" (see notes) ||||||||||\n");
                continue;
            }
            md.append("| ").append(s.name()).append(" | ").append(s.description())
                    .append(" | ").append(fmt("%,.0f", s.requestsPerSecond()))
                    .append(" | ").append(latency(s.p50Micros()))
                    .append(" | ").append(latency(s.p90Micros()))
                    .append(" | ").append(latency(s.p99Micros()))
                    .append(" | ").append(direct.filter(d -> d != s).map(d -> signedLatency(s.p50Micros() - d.p50Micros())).orElse("—"))
                    .append(" | ").append(Double.isNaN(s.cpuSeconds()) ? "—" : fmt("%.2f", s.cpuSeconds()))
                    .append(" | ").append(Double.isNaN(s.coreBusy()) ? "—" : fmt("%.0f %%", 100 * s.coreBusy()))
                    .append(" | ").append(Double.isNaN(s.vcpuPer1000Rps()) ? "—" : fmt("%.3f", s.vcpuPer1000Rps()))
                    .append(" | ").append(s.rssKb() < 0 ? "—" : mib(s.rssKb()) + " / " + mib(s.hwmKb()))
                    .append(" | ").append(s.errors()).append(" |\n");
        }
        md.append('\n');

        md.append("| ratio | req/s (of medians) | req/s, same-round pairs: median [min – max] | p50 | p99 | CPU per request |\n"
                + "|---|---:|---:|---:|---:|---:|\n");
        ratioRow(md, report, "nodemesh", "direct");
        ratioRow(md, report, "nodemesh", "haproxy");
        ratioRow(md, report, "haproxy", "direct");
        if (report.ran("haproxy-captured").isPresent()) {
            ratioRow(md, report, "nodemesh", "haproxy-captured");
            ratioRow(md, report, "haproxy-captured", "haproxy");
        }
        md.append('\n');

        md.append("Targets (what we aim at; these figures say where we stand):\n\n");
        Optional<SubjectSummary> nm = report.ran("nodemesh");
        Optional<SubjectSummary> ha = report.ran("haproxy");
        Paired plain = Paired.of(report, "nodemesh", "haproxy");
        md.append("- issue 2, nodemesh req/s ≥ 0.8 × HAProxy's on the same core (median of same-round pairs): ")
                .append(verdict(nm, ha, (n, h) -> plain.median() >= 0.8, (n, h) -> plain.spread())).append('\n');
        md.append("- issue 7, nodemesh req/s ≥ HAProxy's (median of same-round pairs): ")
                .append(verdict(nm, ha, (n, h) -> plain.median() >= 1.0, (n, h) -> plain.spread())).append('\n');
        if (report.ran("haproxy-captured").isPresent()) {
            Paired captured = Paired.of(report, "nodemesh", "haproxy-captured");
            md.append("- issue 23, nodemesh req/s ≥ HAProxy's behind the same capture (median of same-round pairs): ")
                    .append(verdict(nm, report.ran("haproxy-captured"), (n, h) -> captured.median() >= 1.0,
                            (n, h) -> captured.spread())).append('\n');
        }
        md.append("- issue 7, added p50 ≤ 50 µs (at this load, which saturates; issue 7 asks for it at a fixed 1000 req/s): ")
                .append(verdict(nm, direct, (n, d) -> n.p50Micros() - d.p50Micros() <= 50,
                        (n, d) -> signedLatency(n.p50Micros() - d.p50Micros()))).append("\n\n");

        for (String chart : charts) {
            md.append("![req/s and p50/p99 latency per subject](").append(chart).append(")\n\n");
        }

        md.append("<details><summary>Every measured round, in the order they ran</summary>\n\n");
        md.append("| round | subject | req/s | p50 | p90 | p99 | max | process CPU s | others on proxy core | errors |\n"
                + "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (RoundResult r : report.rounds()) {
            WrkResult w = r.wrk();
            md.append("| ").append(r.round() + 1).append(" | ").append(r.subject())
                    .append(" | ").append(fmt("%,.0f", w.requestsPerSecond()))
                    .append(" | ").append(latency(w.p50Micros()))
                    .append(" | ").append(latency(w.p90Micros()))
                    .append(" | ").append(latency(w.p99Micros()))
                    .append(" | ").append(latency(w.maxMicros()))
                    .append(" | ").append(Double.isNaN(r.cpuSeconds()) ? "—" : fmt("%.2f", r.cpuSeconds()))
                    .append(" | ").append(Double.isNaN(r.othersOnProxyCore()) ? "—" : fmt("%.0f %%", 100 * r.othersOnProxyCore()))
                    .append(" | ").append(w.socketErrors() + w.non2xx()).append(" |\n");
        }
        md.append("\n</details>\n");
        md.append("\nNotes:\n\n");
        for (SubjectSummary s : report.subjects()) {
            if (!s.ran()) {
                List<String> lines = s.unavailable().lines().toList();
                md.append("- ").append(s.name()).append(" not run: ").append(lines.getFirst()).append('\n');
                if (lines.size() > 1) {
                    md.append("  ```\n");
                    lines.subList(1, lines.size()).forEach(l -> md.append("  ").append(l).append('\n'));
                    md.append("  ```\n");
                }
            }
        }
        for (String note : report.notes()) {
            md.append("- ").append(note).append('\n');
        }
        md.append(END).append('\n');
        return md.toString();
    }

    /** {@code existing} with its e2e section replaced by {@code section}, or with it appended if absent. */
    public static String replaceSection(String existing, String section) {
        int begin = existing.indexOf(BEGIN);
        int end = existing.indexOf(END);
        if (begin < 0 && end < 0) {
            String sep = existing.isEmpty() || existing.endsWith("\n\n") ? "" : existing.endsWith("\n") ? "\n" : "\n\n";
            return existing + sep + section;
        }
        if (begin < 0 || end < begin) {
            throw new IllegalArgumentException("the results file has a broken e2e section: expected " + BEGIN + " before " + END);
        }
        int after = end + END.length();
        if (after < existing.length() && existing.charAt(after) == '\n') {
            after++;
        }
        return existing.substring(0, begin) + section + existing.substring(after);
    }

    static String latency(double micros) {
        if (micros >= 10_000) {
            return fmt("%.1f ms", micros / 1000);
        }
        if (micros >= 1_000) {
            return fmt("%.2f ms", micros / 1000);
        }
        return fmt("%.0f µs", micros);
    }

    private static String signedLatency(double micros) {
        return (micros >= 0 ? "+" : "−") + latency(Math.abs(micros));
    }

    private static void ratioRow(StringBuilder md, BenchReport report, String a, String b) {
        Optional<SubjectSummary> x = report.ran(a);
        Optional<SubjectSummary> y = report.ran(b);
        md.append("| ").append(a).append(" / ").append(b).append(" | ");
        if (x.isEmpty() || y.isEmpty()) {
            md.append("— | — | — | — | — |\n");
            return;
        }
        double[] pairs = pairedRatios(report, a, b);
        double cpuX = x.get().cpuSeconds() / x.get().requests();
        double cpuY = y.get().cpuSeconds() / y.get().requests();
        md.append(fmt("%.2f", x.get().requestsPerSecond() / y.get().requestsPerSecond())).append(" | ")
                .append(pairs.length == 0 ? "—" : fmt("%.2f [%.2f – %.2f]", median(pairs), pairs[0], pairs[pairs.length - 1]))
                .append(" | ").append(fmt("%.2f", x.get().p50Micros() / y.get().p50Micros())).append(" | ")
                .append(fmt("%.2f", x.get().p99Micros() / y.get().p99Micros())).append(" | ")
                .append(Double.isNaN(cpuX) || Double.isNaN(cpuY) ? "—" : fmt("%.2f", cpuX / cpuY)).append(" |\n");
    }

    /**
     * req/s of {@code a} over {@code b} within each round both ran, sorted: runs of the same round
     * are next to each other in time, so these ratios suffer least from drift in what else the
     * machine is doing.
     */
    static double[] pairedRatios(BenchReport report, String a, String b) {
        return report.rounds().stream()
                .filter(r -> r.subject().equals(a))
                .flatMap(ra -> report.rounds().stream()
                        .filter(rb -> rb.subject().equals(b) && rb.round() == ra.round())
                        .map(rb -> ra.wrk().requestsPerSecond() / rb.wrk().requestsPerSecond()))
                .mapToDouble(Double::doubleValue).sorted().toArray();
    }

    /** {@code a}'s req/s over {@code b}'s, same-round pairs: their median and its text with the single rounds' range. */
    private record Paired(double median, String spread) {
        static Paired of(BenchReport report, String a, String b) {
            double[] pairs = pairedRatios(report, a, b);
            double median = pairs.length == 0 ? Double.NaN : MarkdownReport.median(pairs);
            return new Paired(median, pairs.length == 0 ? ""
                    : fmt("%.2f ×; single rounds %.2f – %.2f", median, pairs[0], pairs[pairs.length - 1]));
        }
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    private interface Check {
        boolean met(SubjectSummary a, SubjectSummary b);
    }

    private interface Figure {
        String of(SubjectSummary a, SubjectSummary b);
    }

    private static String verdict(Optional<SubjectSummary> a, Optional<SubjectSummary> b, Check check, Figure figure) {
        if (a.isEmpty() || b.isEmpty()) {
            return "not measured in this run";
        }
        return (check.met(a.get(), b.get()) ? "**met**" : "**not met**") + " (" + figure.of(a.get(), b.get()) + ")";
    }

    private static String mib(long kb) {
        return fmt("%.1f MiB", kb / 1024.0);
    }

    private static String fmt(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
