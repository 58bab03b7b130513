package io.nodemesh.bench;

import io.nodemesh.bench.cli.BenchCommand;
import io.nodemesh.bench.cli.MatrixCommand;
import io.nodemesh.bench.e2e.EndToEndBench;
import io.nodemesh.bench.e2e.MatrixBench;
import io.nodemesh.bench.growth.GrowthBench;
import io.nodemesh.bench.growth.GrowthCommand;
import io.nodemesh.bench.harness.Machine;
import io.nodemesh.bench.harness.MatrixBenchmark;
import io.nodemesh.bench.harness.MatrixOptions;
import io.nodemesh.bench.harness.MatrixReport;
import io.nodemesh.bench.report.MicroBenchmarks;
import io.nodemesh.bench.report.MicroSection;
import io.nodemesh.bench.report.OnOffSection;
import io.nodemesh.bench.report.ReportPart;
import io.nodemesh.bench.report.RunStamp;
import io.nodemesh.bench.report.Section;
import io.nodemesh.bench.report.Step;
import io.nodemesh.bench.report.StepRunner;
import io.nodemesh.bench.report.TelemetrySection;
import io.nodemesh.bench.telemetry.ReporterThroughput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Supplier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/**
 * The whole benchmark report in one command (issue 7): JMH micro-benchmarks, telemetry throughput, the scenario
 * matrix, growth with pods and the end-to-end wrk run, each rewriting its own marked section of the results file.
 */
@Command(name = "bench-report", mixinStandardHelpOptions = true,
        description = {"Runs, in order, the JMH micro-benchmarks (section micro), the telemetry throughput "
                + "(telemetry-throughput), telemetry on vs off end to end (telemetry-onoff), the scenario matrix (matrix), growth with captured pods (growth) and the "
                + "end-to-end wrk run (e2e); each part rewrites only its own section of the results file, and only after it "
                + "succeeded. A failing part is reported, the others still run, and the exit status is 1.",
                "Needs root for matrix, growth, e2e and the namespace-entry micro-benchmark (skipped with a note when not root); "
                        + "wrk, haproxy, openssl, taskset, iptables and the built jars."})
public final class Report implements Callable<Integer> {

    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--quick", description = "The developer run: short JMH settings, one telemetry run, and --quick for the "
            + "matrix, growth and e2e runs.")
    private boolean quick;

    @Option(names = "--only", split = ",", paramLabel = "PART",
            description = "Run only these parts, from micro,telemetry,onoff,matrix,growth,e2e (default all, in that order).")
    private List<String> only;

    @Option(names = "--nice", paramLabel = "N", description = "Niceness passed to the matrix and e2e runs (growth and the "
            + "in-process parts do not take one).")
    private Integer nice;

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "jmh-bench/RESULTS.md",
            description = "Results file (default ${DEFAULT-VALUE}); charts and raw outputs go to results/ beside it.")
    private Path out;

    private final String invokedAs;
    private final Supplier<Boolean> isRoot;

    /** As run by {@code bin/nodemesh bench-report} (which sets {@code -Dnodemesh.invokedAs}) or by its class name. */
    public Report() {
        this(System.getProperty("nodemesh.invokedAs",
                "java -cp jmh-bench/target/benchmarks.jar " + Report.class.getName()), Report::runningAsRoot);
    }

    Report(String invokedAs, Supplier<Boolean> isRoot) {
        this.invokedAs = invokedAs;
        this.isRoot = isRoot;
    }

    /** Runs the report with the given options and exits with its status. */
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        Report report = new Report();
        System.exit(new CommandLine(report).setCommandName(report.invokedAs).execute(args));
    }

    @Override
    public Integer call() {
        List<ReportPart> parts;
        try {
            parts = ReportPart.parseOnly(only);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        String command = (invokedAs + " " + String.join(" ", spec.commandLine().getParseResult().originalArgs())).strip();
        List<Step> steps = new ArrayList<>();
        for (ReportPart part : parts) {
            steps.add(switch (part) {
                case MICRO -> new Step("micro", () -> micro(command));
                case TELEMETRY -> new Step("telemetry", () -> telemetry(command));
                case ONOFF -> new Step("onoff", () -> onOff(command));
                case MATRIX -> new Step("matrix", () -> delegate("matrix", new MatrixCommand(self(command, "matrix", MatrixBench.class)),
                        quick ? List.of("--quick") : List.of(), true));
                case GROWTH -> new Step("growth", () -> delegate("growth", new GrowthCommand(self(command, "growth", GrowthBench.class)),
                        quick ? List.of("--quick") : List.of("--variants", "default,tuned,c1"), false));
                case E2E -> new Step("e2e", () -> delegate("e2e", new BenchCommand(self(command, "e2e", EndToEndBench.class)),
                        quick ? List.of("--quick") : List.of("--rounds", "5", "--duration", "10s"), true));
            });
        }
        return StepRunner.run(steps, out, System.out);
    }

    private Optional<Section> micro(String command) throws Exception {
        Instant started = Instant.now();
        String loadBefore = RunStamp.loadAverage();
        Map<String, String> skipped = MicroBenchmarks.skips(isRoot.get());
        List<String> exclude = skipped.keySet().stream().map(c -> "\\." + c + "\\.").toList();
        MicroBenchmarks.Run run = MicroBenchmarks.run(
                quick ? MicroBenchmarks.Settings.quick(exclude) : MicroBenchmarks.Settings.full(exclude), System.out);
        if (!run.missing().isEmpty()) {
            throw new IllegalStateException("JMH benchmarks failed (see JMH's output above): " + String.join(", ", run.missing()));
        }
        if (run.results().isEmpty()) {
            throw new IllegalStateException("JMH ran no benchmark");
        }
        Path dir = out.toAbsolutePath().getParent();
        List<String> raw = MicroBenchmarks.writeRaw(run.results(), dir.resolve("results")).stream()
                .map(p -> dir.relativize(p).toString()).toList();
        RunStamp stamp = new RunStamp(command, started, Duration.between(started, Instant.now()), Machine.current(),
                loadBefore, RunStamp.loadAverage());
        return Optional.of(new Section(MicroSection.NAME, MicroSection.render(stamp, run.rows(), skipped, raw)));
    }

    private Optional<Section> telemetry(String command) throws Exception {
        Instant started = Instant.now();
        String loadBefore = RunStamp.loadAverage();
        int runs = quick ? 1 : 3;
        int seconds = quick ? 5 : 10;
        List<ReporterThroughput.Result> results = new ArrayList<>();
        Path nodemeshJar = Path.of("cli", "target", "nodemesh.jar");
        for (int i = 1; i <= runs; i++) {
            // Alternating the two set-ups, and which comes first, so neither always runs on a warmer machine.
            for (boolean ownProcess : i % 2 == 1 ? new boolean[] {true, false} : new boolean[] {false, true}) {
                ReporterThroughput.Result r = ownProcess
                        ? ReporterThroughput.measureWithAgentProcess(seconds, 200, nodemeshJar)
                        : ReporterThroughput.measure(seconds, 200);
                System.out.printf("telemetry run %d/%d (%s): %,.0f records/s, %.2f cores busy, %,d dropped%n", i, runs,
                        r.setup(), r.recordsPerSecond(), r.coresBusy(), r.dropped());
                results.add(r);
            }
        }
        RunStamp stamp = new RunStamp(command, started, Duration.between(started, Instant.now()), Machine.current(),
                loadBefore, RunStamp.loadAverage());
        return Optional.of(new Section(TelemetrySection.NAME, TelemetrySection.render(stamp, results)));
    }

    private Optional<Section> onOff(String command) throws Exception {
        Instant started = Instant.now();
        String loadBefore = RunStamp.loadAverage();
        MatrixOptions options = OnOffSection.options(quick, nice, out, command);
        System.out.println("bench-report: telemetry on/off, " + options.rounds() + " rounds of " + options.subjects());
        MatrixReport report = MatrixBenchmark.run(options, System.out);
        RunStamp stamp = new RunStamp(command, started, Duration.between(started, Instant.now()), Machine.current(),
                loadBefore, RunStamp.loadAverage());
        return Optional.of(new Section(OnOffSection.NAME, OnOffSection.render(stamp, report)));
    }

    // The delegates rewrite their own sections (and charts) only at the end of a finished run; a non-zero status is a failure.
    private Optional<Section> delegate(String name, Object command, List<String> partArgs, boolean takesNice) {
        List<String> args = new ArrayList<>(partArgs);
        if (nice != null && takesNice) {
            args.addAll(List.of("--nice", Integer.toString(nice)));
        }
        args.addAll(List.of("--out", out.toString()));
        CommandLine cl = new CommandLine(command).setCommandName(name);
        System.out.println("bench-report: " + name + " " + String.join(" ", args));
        int status = cl.execute(args.toArray(String[]::new));
        if (status != 0) {
            throw new IllegalStateException(name + " exited with status " + status + " (its output above says why)");
        }
        return Optional.empty();
    }

    /** What a part's section records as its command: this report, and the command that redoes the part alone. */
    private static String self(String report, String part, Class<?> main) {
        return report + ", its " + part + " part; alone the same as: java -cp jmh-bench/target/benchmarks.jar "
                + main.getName();
    }

    // /proc/self belongs to the process's effective user: no native call needed.
    static boolean runningAsRoot() {
        try {
            return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        } catch (IOException | UnsupportedOperationException e) {
            return false;
        }
    }
}
