package io.nodemesh.bench.cli;

import io.nodemesh.bench.harness.MatrixBenchmark;
import io.nodemesh.bench.harness.MatrixOptions;
import io.nodemesh.bench.harness.MatrixReport;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code nodemesh bench-matrix}: issue 7's scenario matrix (latency, throughput, bulk, churn, CPU, memory) into RESULTS.md. */
@Command(name = "bench-matrix", mixinStandardHelpOptions = true,
        description = {"Runs fixed-rate latency, wrk throughput, bulk transfer and connection churn directly, through nodemesh "
                + "(epoll, io_uring and NIO), HAProxy (tcp) and a HAProxy mTLS pair, step by step in the same run, in network "
                + "namespaces it creates and removes; rewrites the matrix section of the results file.",
                "Needs root, wrk, haproxy, openssl, taskset and the built cli/target/nodemesh.jar."})
public final class MatrixCommand implements Callable<Integer> {

    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--quick", description = "A developer run of about 3 minutes: fewer connection counts, shorter runs (explicit options win).")
    private boolean quick;

    @Option(names = "--latency-connections", split = ",", paramLabel = "N",
            description = "Fixed-rate connection counts (default 2,4,8,16,32,64; 2,16,64 with --quick).")
    private List<Integer> latencyConnections;

    @Option(names = "--rate", defaultValue = "1000", description = "Fixed rate, requests/s (default ${DEFAULT-VALUE}).")
    private double rate;

    @Option(names = "--payload", defaultValue = "1024", description = "Request/response bytes (default ${DEFAULT-VALUE}).")
    private int payload;

    @Option(names = "--latency-warmup", converter = BenchCommand.DurationConverter.class,
            description = "Unmeasured start of each fixed-rate run (default 2s; 1s with --quick).")
    private Duration latencyWarmup;

    @Option(names = "--latency-duration", converter = BenchCommand.DurationConverter.class,
            description = "Measured part of each fixed-rate run (default 10s; 3s with --quick).")
    private Duration latencyDuration;

    @Option(names = "--wrk-connections", split = ",", paramLabel = "N", description = "wrk connection counts (default 1,16,64).")
    private List<Integer> wrkConnections = List.of(1, 16, 64);

    @Option(names = "--wrk-duration", converter = BenchCommand.DurationConverter.class,
            description = "Each wrk run (default 10s; 2s with --quick).")
    private Duration wrkDuration;

    @Option(names = "--bulk-streams", split = ",", paramLabel = "N", description = "Bulk stream counts (default 1,8).")
    private List<Integer> bulkStreams = List.of(1, 8);

    @Option(names = "--churn-threads", defaultValue = "4", description = "Churn connect loops (default ${DEFAULT-VALUE}).")
    private int churnThreads;

    @Option(names = "--tool-warmup", converter = BenchCommand.DurationConverter.class,
            description = "Warm-up of each bulk and churn run (default 1s; 500ms with --quick).")
    private Duration toolWarmup;

    @Option(names = "--churn-warmup", converter = BenchCommand.DurationConverter.class,
            description = "Unmeasured churn through every subject before the first round, so a JVM proxy's connection "
                    + "set-up path is JIT-compiled before churn is measured (default 20s; 5s with --quick; 0s to skip).")
    private Duration churnWarmup;

    @Option(names = "--short-duration", converter = BenchCommand.DurationConverter.class,
            description = "Measured part of each bulk and churn run (default 5s; 2s with --quick).")
    private Duration shortDuration;

    @Option(names = "--rounds", defaultValue = "1", description = "Measured rounds of the whole matrix (default ${DEFAULT-VALUE}).")
    private int rounds;

    @Option(names = "--subjects", split = ",", description = "Subjects, from direct,nodemesh,nodemesh-telemetry,nodemesh-again,nodemesh-io_uring,nodemesh-nio,haproxy,haproxy-mtls,nodemesh-mtls (default all but nodemesh-again, the on/off part's A/A control).")
    private List<String> subjects = MatrixOptions.DEFAULT_SUBJECTS;

    @Option(names = "--out", defaultValue = "jmh-bench/RESULTS.md", description = "Results file (default ${DEFAULT-VALUE}); charts go to results/ beside it.")
    private Path out;

    @Option(names = "--proxy-jar", description = "nodemesh.jar (default cli/target/nodemesh.jar).")
    private Path proxyJar = Path.of("cli", "target", "nodemesh.jar");

    @Option(names = "--proxy-cpu", defaultValue = "1", description = "Core for every proxy (default ${DEFAULT-VALUE}).")
    private int proxyCpu;

    @Option(names = "--load-cpu", defaultValue = "0", description = "Core for servers and load generators (default ${DEFAULT-VALUE}).")
    private int loadCpu;

    @Option(names = "--nice", defaultValue = "0", description = "Niceness for every process started (default ${DEFAULT-VALUE}).")
    private int nice;

    @Option(names = "--keep-logs", description = "Keep the work directory (configs, logs, certificates, raw tool output).")
    private boolean keepLogs;

    private final String invokedAs;

    /** As {@code nodemesh bench-matrix}. */
    public MatrixCommand() {
        this("nodemesh bench-matrix");
    }

    /** With the command line prefix the report records (the jmh-bench entry point passes its own). */
    public MatrixCommand(String invokedAs) {
        this.invokedAs = invokedAs;
    }

    @Override
    public Integer call() throws Exception {
        MatrixOptions options;
        try {
            options = new MatrixOptions(
                    latencyConnections != null ? latencyConnections : quick ? List.of(2, 16, 64) : List.of(2, 4, 8, 16, 32, 64),
                    rate, payload,
                    latencyWarmup != null ? latencyWarmup : Duration.ofSeconds(quick ? 1 : 2),
                    latencyDuration != null ? latencyDuration : Duration.ofSeconds(quick ? 3 : 10),
                    wrkConnections, wrkDuration != null ? wrkDuration : Duration.ofSeconds(quick ? 2 : 10),
                    bulkStreams, churnThreads,
                    toolWarmup != null ? toolWarmup : Duration.ofMillis(quick ? 500 : 1000),
                    churnWarmup != null ? churnWarmup : Duration.ofSeconds(quick ? 5 : 20),
                    shortDuration != null ? shortDuration : Duration.ofSeconds(quick ? 2 : 5),
                    rounds, subjects, out, proxyJar, proxyCpu, loadCpu, nice, keepLogs,
                    (invokedAs + " " + String.join(" ", spec.commandLine().getParseResult().originalArgs())).strip());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        MatrixReport report = MatrixBenchmark.runAndWrite(options, System.out);
        report.unavailable().forEach((s, why) -> System.err.println("not run: " + s + ": " + why));
        return report.unavailable().isEmpty() ? 0 : 1;
    }
}
