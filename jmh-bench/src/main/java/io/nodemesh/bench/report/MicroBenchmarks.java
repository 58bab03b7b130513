package io.nodemesh.bench.report;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.openjdk.jmh.profile.GCProfiler;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatFactory;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.BenchmarkList;
import org.openjdk.jmh.runner.BenchmarkListEntry;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/** Runs the JMH micro-benchmarks through JMH's Java API with the GC profiler and keeps JMH's raw output. */
public final class MicroBenchmarks {

    /** Every benchmark class of this module: {@code io.nodemesh.bench.<feature>.<Name>Benchmark.<method>}. */
    public static final String ALL = "io\\.nodemesh\\.bench\\.[a-z]+\\.[A-Za-z]+Benchmark\\.";

    /** Benchmark classes that need root (they enter network namespaces) → why. */
    static final Map<String, String> NEEDS_ROOT = Map.of(
            "NamespaceEntryBenchmark", "needs root: creates a network namespace and enters it with setns",
            "UpstreamSocketBenchmark", "needs root: creates a network namespace, enters it and marks sockets");

    /** Raw outputs, in {@code results/} beside the results file. */
    public static final String JSON = "jmh-micro.json";
    /** JMH's text table of the same run. */
    public static final String TEXT = "jmh-micro.txt";

    /**
     * What to run and how long; null fields keep each benchmark's own annotations.
     *
     * @param include regexes of benchmarks to run
     * @param exclude regexes of benchmarks not to run
     * @param forks forks per benchmark
     * @param warmupIterations warm-up iterations
     * @param warmupTime each warm-up iteration
     * @param measurementIterations measured iterations
     * @param measurementTime each measured iteration
     */
    public record Settings(List<String> include, List<String> exclude, Integer forks, Integer warmupIterations,
            Duration warmupTime, Integer measurementIterations, Duration measurementTime) {

        /** The full run: every benchmark with its annotations (1 fork, 3 × 1 s warm-up, 5 × 1 s measurement). */
        public static Settings full(List<String> exclude) {
            return new Settings(List.of(ALL), exclude, null, null, null, null, null);
        }

        /** The developer run: every benchmark, 1 fork, 2 × 1 s warm-up, 3 × 500 ms measured. */
        public static Settings quick(List<String> exclude) {
            return new Settings(List.of(ALL), exclude, 1, 2, Duration.ofSeconds(1), 3, Duration.ofMillis(500));
        }
    }

    /**
     * A finished run.
     *
     * @param results JMH's results
     * @param missing benchmarks that matched but produced no result (they failed; JMH printed why)
     */
    public record Run(Collection<RunResult> results, List<String> missing) {

        /** The rows of the section. */
        public List<MicroRow> rows() {
            return results.stream().map(MicroRow::of).toList();
        }
    }

    private MicroBenchmarks() {
    }

    /** The root-only benchmark classes to skip → why (none when root). */
    public static Map<String, String> skips(boolean root) {
        return root ? Map.of() : new java.util.TreeMap<>(NEEDS_ROOT);
    }

    /** Runs the benchmarks; JMH's progress goes to {@code log}. */
    public static Run run(Settings s, PrintStream log) throws RunnerException {
        ChainedOptionsBuilder b = new OptionsBuilder().addProfiler(GCProfiler.class).shouldFailOnError(false)
                .verbosity(VerboseMode.NORMAL);
        s.include().forEach(b::include);
        s.exclude().forEach(b::exclude);
        if (s.forks() != null) {
            b.forks(s.forks());
        }
        if (s.warmupIterations() != null) {
            b.warmupIterations(s.warmupIterations());
        }
        if (s.warmupTime() != null) {
            b.warmupTime(TimeValue.milliseconds(s.warmupTime().toMillis()));
        }
        if (s.measurementIterations() != null) {
            b.measurementIterations(s.measurementIterations());
        }
        if (s.measurementTime() != null) {
            b.measurementTime(TimeValue.milliseconds(s.measurementTime().toMillis()));
        }
        Collection<RunResult> results = new Runner(b.build(), OutputFormatFactory.createFormatInstance(log, VerboseMode.NORMAL)).run();
        // JMH (failOnError off) drops a benchmark that threw; find which, so the part can fail instead of hiding it.
        Set<String> expected = new TreeSet<>();
        for (BenchmarkListEntry e : BenchmarkList.defaultList().find(
                OutputFormatFactory.createFormatInstance(log, VerboseMode.SILENT), s.include(), s.exclude())) {
            expected.add(e.getUsername());
        }
        Set<String> got = results.stream().map(r -> r.getParams().getBenchmark()).collect(Collectors.toSet());
        List<String> missing = new ArrayList<>(expected);
        missing.removeAll(got);
        return new Run(results, List.copyOf(missing));
    }

    /** Writes JMH's JSON and text outputs of {@code results} into {@code dir}; returns the files. */
    public static List<Path> writeRaw(Collection<RunResult> results, Path dir) throws IOException {
        Files.createDirectories(dir);
        Map<ResultFormatType, Path> files = new LinkedHashMap<>();
        files.put(ResultFormatType.JSON, dir.resolve(JSON));
        files.put(ResultFormatType.TEXT, dir.resolve(TEXT));
        List<Path> written = new ArrayList<>();
        for (Map.Entry<ResultFormatType, Path> f : files.entrySet()) {
            Path tmp = f.getValue().resolveSibling(f.getValue().getFileName() + ".tmp");
            ResultFormatFactory.getInstance(f.getKey(), tmp.toString()).writeOut(results);
            Files.move(tmp, f.getValue(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            written.add(f.getValue());
        }
        return written;
    }
}
