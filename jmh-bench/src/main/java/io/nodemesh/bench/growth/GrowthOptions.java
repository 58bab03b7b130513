package io.nodemesh.bench.growth;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What one growth run measures.
 *
 * @param podCounts captured pods per measurement, ascending (0 is the empty proxy)
 * @param idle how long idle CPU is sampled at each count
 * @param load length of each loaded phase (zero: no loaded phases)
 * @param rate requests/s of the first loaded phase (4 connections)
 * @param highRate requests/s of the second loaded phase (16 connections)
 * @param variants the proxy JVM set-ups compared, each at every count
 * @param out results file whose growth section is rewritten; charts go to {@code results/} beside it
 * @param proxyJar the nodemesh.jar the proxy runs from
 * @param proxyCpu core the proxy is pinned to (negative: not pinned)
 * @param keepLogs keep the work directory (configs, proxy logs)
 * @param commandLine how the run was invoked, for the report
 */
public record GrowthOptions(List<Integer> podCounts, Duration idle, Duration load, int rate, int highRate, List<Variant> variants,
                            Path out, Path proxyJar, int proxyCpu, boolean keepLogs, String commandLine) {

    public GrowthOptions {
        podCounts = List.copyOf(podCounts);
        variants = List.copyOf(variants);
        if (podCounts.isEmpty() || podCounts.stream().anyMatch(n -> n < 0 || n > 2000)) {
            throw new IllegalArgumentException("--pods: counts must be 0..2000, got " + podCounts);
        }
        for (int i = 1; i < podCounts.size(); i++) {
            if (podCounts.get(i) <= podCounts.get(i - 1)) {
                throw new IllegalArgumentException("--pods: counts must be strictly ascending, got " + podCounts);
            }
        }
        if (variants.isEmpty()) {
            throw new IllegalArgumentException("--variants: at least one is needed");
        }
        if (idle.isNegative() || idle.isZero() || load.isNegative() || rate < 1 || highRate < 1) {
            throw new IllegalArgumentException("--idle must be positive, --load not negative, --rate and --high-rate at least 1");
        }
    }

    /** The largest pod count. */
    public int maxPods() {
        return podCounts.get(podCounts.size() - 1);
    }

    /**
     * One way of launching the proxy JVM.
     *
     * @param name short name in tables
     * @param flags JVM flags before {@code -jar}
     * @param env extra environment variables
     */
    public record Variant(String name, List<String> flags, Map<String, String> env) {
        public Variant {
            flags = List.copyOf(flags);
            env = Map.copyOf(env);
        }

        /** The launch as a reader would type it (environment first). */
        public String describe() {
            StringBuilder sb = new StringBuilder();
            env.entrySet().stream().sorted(Map.Entry.comparingByKey())
                    .forEach(e -> sb.append(e.getKey()).append('=').append(e.getValue()).append(' '));
            return sb.append("java ").append(String.join(" ", flags)).toString();
        }
    }
}
