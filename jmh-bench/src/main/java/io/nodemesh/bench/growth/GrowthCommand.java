package io.nodemesh.bench.growth;

import io.nodemesh.bench.harness.ProxyJvmFlags;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code nodemesh bench growth}: proxy RSS, idle CPU, listeners and capture time against captured pods per node. */
@Command(name = "growth", mixinStandardHelpOptions = true,
        description = {"Starts the real proxy with 0..N captured pods (network namespaces it creates and removes) and "
                + "measures RSS, idle CPU, sockets and time until every pod listens, for the default and the tuned JVM "
                + "flags; then RSS under a 1000 req/s and a max-rate load. Rewrites the growth section of the results file.",
                "Needs root, iptables, taskset and the built cli/target/nodemesh.jar."})
public final class GrowthCommand implements Callable<Integer> {

    /** The built-in JVM variants by name. */
    static final Map<String, GrowthOptions.Variant> VARIANTS = Map.of(
            "default", new GrowthOptions.Variant("default", ProxyJvmFlags.BASELINE, Map.of()),
            "tuned", new GrowthOptions.Variant("tuned", ProxyJvmFlags.TUNED, ProxyJvmFlags.TUNED_ENV),
            "c1", new GrowthOptions.Variant("c1", concat(ProxyJvmFlags.TUNED, ProxyJvmFlags.TUNED_C1_ONLY), ProxyJvmFlags.TUNED_ENV));

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return all;
    }

    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--quick", description = "A developer run under 2 minutes: pods 0,25,50, 5 s idle and 3 s load windows (explicit options win).")
    private boolean quick;

    @Option(names = "--pods", split = ",", paramLabel = "N", description = "Captured pod counts, ascending (default 0,50,100,250,500).")
    private List<Integer> pods;

    @Option(names = "--idle", paramLabel = "SECONDS", description = "Idle CPU window per measurement (default 10; 5 with --quick).")
    private Integer idle;

    @Option(names = "--load", paramLabel = "SECONDS", description = "Length of each loaded phase, 0 for none (default 10; 3 with --quick).")
    private Integer load;

    @Option(names = "--rate", defaultValue = "1000", paramLabel = "REQ/S", description = "Fixed rate of the first loaded phase (default ${DEFAULT-VALUE}).")
    private int rate;

    @Option(names = "--variants", split = ",", paramLabel = "NAME", defaultValue = "default,tuned",
            description = "JVM variants to compare: default (project flags only), tuned (ProxyJvmFlags.TUNED, as bin/nodemesh proxy runs it), "
                    + "c1 (tuned with C2 off). Default: ${DEFAULT-VALUE}.")
    private List<String> variants;

    @Option(names = "--variant", paramLabel = "NAME=ARGS",
            description = "An extra JVM variant to compare, e.g. --variant 'c1=-XX:TieredStopAtLevel=1 -Xmx32m' "
                    + "(flags added after the project's own; KEY=VALUE words are environment variables). Repeatable.")
    private List<String> extraVariants = List.of();

    @Option(names = "--high-rate", defaultValue = "10000", paramLabel = "REQ/S",
            description = "Fixed rate of the second loaded phase, on 16 connections (default ${DEFAULT-VALUE}).")
    private int highRate;

    @Option(names = "--out", paramLabel = "FILE", defaultValue = "jmh-bench/RESULTS.md",
            description = "Results file whose growth section is rewritten (default ${DEFAULT-VALUE}); charts go to results/ beside it.")
    private Path out;

    @Option(names = "--proxy-jar", paramLabel = "JAR", defaultValue = "cli/target/nodemesh.jar",
            description = "The nodemesh.jar to run `proxy` from (default ${DEFAULT-VALUE}).")
    private Path proxyJar;

    @Option(names = "--proxy-cpu", defaultValue = "1", description = "Core the proxy is pinned to, -1 for none (default ${DEFAULT-VALUE}).")
    private int proxyCpu;

    @Option(names = "--keep-logs", description = "Keep the work directory (configs, proxy logs).")
    private boolean keepLogs;

    private final String invokedAs;

    /** As {@code nodemesh bench growth}. */
    public GrowthCommand() {
        this("nodemesh bench growth");
    }

    /** With the command line prefix the report records (the jmh-bench entry point passes its own). */
    public GrowthCommand(String invokedAs) {
        this.invokedAs = invokedAs;
    }

    @Override
    public Integer call() throws Exception {
        GrowthOptions options;
        try {
            List<GrowthOptions.Variant> chosen = new ArrayList<>();
            for (String name : variants) {
                GrowthOptions.Variant v = VARIANTS.get(name.trim());
                if (v == null) {
                    throw new IllegalArgumentException("--variants: unknown variant '" + name + "' (known: default, tuned, c1)");
                }
                chosen.add(v);
            }
            for (String spec : extraVariants) {
                chosen.add(parseVariant(spec));
            }
            options = new GrowthOptions(pods != null ? pods : quick ? List.of(0, 25, 50) : List.of(0, 50, 100, 250, 500),
                    Duration.ofSeconds(idle != null ? idle : quick ? 5 : 10), Duration.ofSeconds(load != null ? load : quick ? 3 : 10),
                    rate, highRate, chosen, out, proxyJar, proxyCpu, keepLogs,
                    (invokedAs + " " + String.join(" ", spec.commandLine().getParseResult().originalArgs())).strip());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage(), e);
        }
        GrowthBenchmark.runAndWrite(options, System.out);
        return 0;
    }

    /** {@code NAME=ARGS}: ARGS are JVM flags added after {@link ProxyJvmFlags#BASELINE}; {@code KEY=VALUE} words are environment. */
    static GrowthOptions.Variant parseVariant(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new IllegalArgumentException("--variant: expected NAME=ARGS, got '" + spec + "'");
        }
        String name = spec.substring(0, eq).trim();
        if (VARIANTS.containsKey(name)) {
            throw new IllegalArgumentException("--variant: '" + name + "' is a built-in variant name; pick another");
        }
        List<String> flags = new ArrayList<>(ProxyJvmFlags.BASELINE);
        Map<String, String> env = new java.util.TreeMap<>();
        for (String word : spec.substring(eq + 1).trim().split("\\s+")) {
            if (word.isEmpty()) {
                continue;
            }
            if (word.matches("[A-Z_][A-Z0-9_]*=.*")) {
                env.put(word.substring(0, word.indexOf('=')), word.substring(word.indexOf('=') + 1));
            } else if (word.startsWith("-")) {
                flags.add(word);
            } else {
                throw new IllegalArgumentException("--variant " + name + ": '" + word + "' is neither a JVM flag nor KEY=VALUE");
            }
        }
        return new GrowthOptions.Variant(name, flags, env);
    }
}
