package io.nodemesh.bench.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * The JVM flags (and environment) the proxy and the agent are launched with, read from {@code jvm-flags.properties}
 * (the repository root's file, copied into benchmarks.jar), the same file {@code bin/nodemesh} reads: the benchmarks
 * measure the daemons exactly as a user runs them. {@link #TUNED} is what {@code bin/nodemesh proxy} uses;
 * {@link #BASELINE} is the project's plain JVM flags, kept so the growth benchmark can show both side by side.
 */
public final class ProxyJvmFlags {

    private static final Properties FILE = load();

    /** The flags every JVM of the project runs with ({@code jvm.flags}). */
    public static final List<String> BASELINE = words("jvm.flags");

    /**
     * Footprint flags for the daemons ({@code jvm.flags.daemon}). Why each: the JVM's defaults size the heap from the
     * machine's RAM (G1, initial heap 1/64 of RAM: hundreds of MiB on a node), while the proxy keeps little on the heap
     * (snapshots, per-connection objects) and moves bytes in pooled direct buffers. Serial GC has no per-region
     * remembered sets or concurrent threads; a small, growable heap that keeps 10-30 % free rather than 40-70 % (with
     * the defaults the first full GC, which C2's code cache growth triggers under churn, doubled a 12 MiB heap to
     * 24 MiB for 10 MiB of live data); one direct pool arena instead of 2 per core, in 1 MiB chunks instead of 4 MiB
     * ({@code maxOrder=7}: a chunk is touched, hence resident, as a whole; the relay's buffers are at most 64 KiB) (the
     * caps, 128 MiB heap and 256 MiB direct, are limits for a node with thousands of busy connections, not what is
     * used: side by side with 64m/32m caps the RSS was the same, RESULTS.md); no heap arenas (the data path allocates
     * direct buffers only); smaller thread stacks and code cache reservation; glibc's freed native memory (C2's
     * compiler arenas after a burst of compilation) handed back to the kernel every 5 s. C2 stays on: C1 alone
     * ({@code -XX:TieredStopAtLevel=1}, the growth benchmark's {@code c1} variant) is 15-20 MiB smaller and its peak
     * 50 MiB lower, but costs CPU per new connection (RESULTS.md, "The proxy's memory, where it goes").
     */
    public static final List<String> TUNED_ONLY = words("jvm.flags.daemon");

    /** Added to {@link #TUNED}: C2 off, the smallest footprint measured, paid for in throughput. */
    public static final List<String> TUNED_C1_ONLY = List.of("-XX:TieredStopAtLevel=1");

    /** {@link #BASELINE} followed by {@link #TUNED_ONLY}. */
    public static final List<String> TUNED = concat(BASELINE, TUNED_ONLY);

    /**
     * Added for the telemetry agent ({@code jvm.flags.agent}): C1 alone, compiling a method after 20 calls instead of
     * 200. Its per-batch code runs a few times a second, so C2 kept compiling it for minutes under churn (a third of
     * the agent's CPU then), and with the default threshold it stayed interpreted for minutes (a third of the agent's
     * samples); C1 is fast enough by far for one node's reports. Measured in RESULTS.md.
     */
    public static final List<String> AGENT_ONLY = words("jvm.flags.agent");

    /** What {@code bin/nodemesh agent} runs with: {@link #TUNED} followed by {@link #AGENT_ONLY}. */
    public static final List<String> AGENT = concat(TUNED, AGENT_ONLY);

    /**
     * Environment for the daemons ({@code jvm.env.*}): glibc creates up to 8 malloc arenas per core for the JVM's
     * native allocations from many threads; two are plenty for a proxy with a handful of threads.
     */
    public static final Map<String, String> TUNED_ENV = env();

    private ProxyJvmFlags() {
    }

    /**
     * The start of a command line that runs {@code java} with {@link #TUNED_ENV} and {@link #TUNED}, as
     * {@code bin/nodemesh} runs the node's daemons (proxy, agent); {@code env} execs, so the pid is java's.
     * The caller adds {@code -jar ...} and the arguments.
     */
    public static List<String> tunedJava(String java) {
        return java(java, TUNED);
    }

    /** The same for the telemetry agent: {@link #TUNED_ENV} and {@link #AGENT}, as {@code bin/nodemesh agent} runs it. */
    public static List<String> agentJava(String java) {
        return java(java, AGENT);
    }

    private static List<String> java(String java, List<String> flags) {
        List<String> argv = new ArrayList<>();
        argv.add("env");
        TUNED_ENV.forEach((k, v) -> argv.add(k + "=" + v));
        argv.add(java);
        argv.addAll(flags);
        return argv;
    }

    private static Properties load() {
        try (InputStream in = ProxyJvmFlags.class.getResourceAsStream("/jvm-flags.properties")) {
            if (in == null) {
                throw new IllegalStateException("jvm-flags.properties is not on the class path (a build of jmh-bench copies it in)");
            }
            Properties p = new Properties();
            p.load(new InputStreamReader(in, StandardCharsets.UTF_8));
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read jvm-flags.properties", e);
        }
    }

    private static List<String> words(String key) {
        String value = FILE.getProperty(key);
        if (value == null || value.isBlank()) {
            throw new IllegalStateException("jvm-flags.properties has no " + key);
        }
        return List.of(value.trim().split("\\s+"));
    }

    private static Map<String, String> env() {
        Map<String, String> env = new TreeMap<>();
        for (String key : FILE.stringPropertyNames()) {
            if (key.startsWith("jvm.env.")) {
                env.put(key.substring("jvm.env.".length()), FILE.getProperty(key).trim());
            }
        }
        return Map.copyOf(env);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return List.copyOf(all);
    }
}
