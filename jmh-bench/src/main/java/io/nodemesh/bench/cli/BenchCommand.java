package io.nodemesh.bench.cli;

import io.nodemesh.bench.harness.BenchOptions;
import io.nodemesh.bench.harness.BenchReport;
import io.nodemesh.bench.harness.EndToEndBenchmark;
import io.nodemesh.bench.harness.SubjectSummary;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code nodemesh bench}: the end-to-end benchmark (direct vs nodemesh vs HAProxy) into RESULTS.md. */
@Command(name = "bench", mixinStandardHelpOptions = true, subcommands = io.nodemesh.bench.growth.GrowthCommand.class,
        description = {"Runs the same wrk load directly, through the nodemesh proxy and through HAProxy (tcp mode), "
                + "interleaved, in network namespaces it creates and removes; rewrites the e2e section of the results file.",
                "Needs root, wrk, haproxy, taskset; the proxy subject needs the built cli/target/nodemesh.jar.",
                "`nodemesh bench growth` measures the proxy against captured pods per node instead."})
public final class BenchCommand implements Callable<Integer> {

    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--quick", description = "A developer run under 2 minutes: 5s rounds, 2 rounds, 2s warm-up (explicit options win).")
    private boolean quick;

    @Option(names = "--duration", converter = DurationConverter.class, paramLabel = "TIME",
            description = "wrk time per subject per round, whole seconds (default 10s; 5s with --quick).")
    private Duration duration;

    @Option(names = "--warmup", converter = DurationConverter.class, paramLabel = "TIME",
            description = "Unmeasured wrk run per subject before the rounds (default 3s; 2s with --quick).")
    private Duration warmup;

    @Option(names = "--rounds", paramLabel = "N", description = "Measured rounds, order alternating ABC CBA (default 3; 2 with --quick).")
    private Integer rounds;

    @Option(names = "--connections", paramLabel = "N", defaultValue = "16", description = "wrk connections (default ${DEFAULT-VALUE}).")
    private int connections;

    @Option(names = "--body", paramLabel = "BYTES", defaultValue = "1024", description = "Response body size (default ${DEFAULT-VALUE}).")
    private int body;

    @Option(names = "--subjects", split = ",", paramLabel = "NAME",
            description = "Subjects to run, from direct,nodemesh,haproxy,haproxy-captured (default all).")
    private List<String> subjects = BenchOptions.ALL_SUBJECTS;

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "jmh-bench/RESULTS.md",
            description = "Results file whose e2e section is rewritten (default ${DEFAULT-VALUE}); charts go to results/ beside it.")
    private Path out;

    @Option(names = "--proxy-jar", paramLabel = "JAR",
            description = "The nodemesh.jar to run `proxy` from (default cli/target/nodemesh.jar).")
    private Path proxyJar;

    @Option(names = "--transport", defaultValue = "epoll", description = "The proxy's transport: epoll, io_uring, nio (default ${DEFAULT-VALUE}).")
    private String transport;

    @Option(names = "--proxy-cpu", defaultValue = "1", description = "Core for the proxy and HAProxy (default ${DEFAULT-VALUE}).")
    private int proxyCpu;

    @Option(names = "--load-cpu", defaultValue = "0", description = "Core for wrk and the HTTP server (default ${DEFAULT-VALUE}).")
    private int loadCpu;

    @Option(names = "--nice", defaultValue = "0", paramLabel = "N",
            description = "Niceness for every process the benchmark starts, e.g. -10 on a busy shared machine (default ${DEFAULT-VALUE}).")
    private int nice;

    @Option(names = "--keep-logs", description = "Keep the work directory (configs, process logs, raw wrk output).")
    private boolean keepLogs;

    private final String invokedAs;

    /** As {@code nodemesh bench}. */
    public BenchCommand() {
        this("nodemesh bench");
    }

    /** With the command line prefix the report records (the jmh-bench entry point passes its own). */
    public BenchCommand(String invokedAs) {
        this.invokedAs = invokedAs;
    }

    @Override
    public Integer call() throws Exception {
        BenchOptions options;
        try {
            options = new BenchOptions(
                    duration != null ? duration : Duration.ofSeconds(quick ? 5 : 10),
                    warmup != null ? warmup : Duration.ofSeconds(quick ? 2 : 3),
                    rounds != null ? rounds : quick ? 2 : 3,
                    connections, body, subjects, out, proxyJar != null ? proxyJar : defaultProxyJar(), transport,
                    proxyCpu, loadCpu, nice, keepLogs,
                    (invokedAs + " " + String.join(" ", spec.commandLine().getParseResult().originalArgs())).strip());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        BenchReport report = EndToEndBenchmark.runAndWrite(options, System.out);
        List<SubjectSummary> missing = report.subjects().stream().filter(s -> !s.ran()).toList();
        for (SubjectSummary s : missing) {
            System.err.println("not run: " + s.name() + ": " + s.unavailable());
        }
        return missing.isEmpty() ? 0 : 1;
    }

    private static Path defaultProxyJar() {
        return Path.of("cli", "target", "nodemesh.jar");
    }

    /** Reads {@code 10s}, {@code 500ms}, {@code 2m}. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        private static final Pattern FORM = Pattern.compile("(\\d+)(ms|s|m)");

        @Override
        public Duration convert(String value) {
            Matcher m = FORM.matcher(value.trim());
            if (!m.matches()) {
                throw new CommandLine.TypeConversionException("'" + value + "' is not a duration like 10s, 500ms or 2m");
            }
            long n = Long.parseLong(m.group(1));
            return switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(n);
                case "s" -> Duration.ofSeconds(n);
                default -> Duration.ofMinutes(n);
            };
        }
    }
}
