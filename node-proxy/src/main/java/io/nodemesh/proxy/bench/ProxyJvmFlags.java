package io.nodemesh.proxy.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The JVM flags (and environment) the proxy process is launched with. {@link #TUNED} is what
 * {@code bin/nodemesh proxy} uses ({@code NODEMESH_PROXY_JVM_FLAGS} in {@code bin/lib.sh}; a unit
 * test keeps the two equal); {@link #BASELINE} is the project's plain JVM flags, kept so the growth
 * benchmark can show both side by side in one run.
 */
public final class ProxyJvmFlags {

    /** The flags every JVM of the project runs with (root pom's {@code nodemesh.jvm.flags}). */
    public static final List<String> BASELINE = List.of("--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
            "-XX:+UseCompactObjectHeaders");

    /**
     * Footprint flags for the proxy. Why each: the JVM's defaults size the heap from the machine's
     * RAM (G1, initial heap 1/64 of RAM: hundreds of MiB on a node), while the proxy keeps little
     * on the heap (snapshots, per-connection objects) and moves bytes in pooled direct buffers.
     * Serial GC has no per-region remembered sets or concurrent threads; a small, growable heap;
     * one direct pool arena instead of 2 per core (the caps, 128 MiB heap and 256 MiB direct, are
     * limits for a node with thousands of busy connections, not what is used: side by side with
     * 64m/32m caps the RSS was the same, RESULTS.md); no heap arenas (the data path allocates direct buffers only); smaller thread stacks
     * and code cache reservation; glibc's freed native memory (C2's compiler arenas after a burst of
     * compilation) handed back to the kernel every 5 s. C2 stays on (throughput): C1 alone
     * ({@code -XX:TieredStopAtLevel=1}, the growth benchmark's {@code c1} variant) is smaller still but slower.
     */
    public static final List<String> TUNED_ONLY = List.of("-XX:+UseSerialGC", "-Xms8m", "-Xmx128m",
            "-XX:MaxDirectMemorySize=256m", "-Dio.netty.allocator.numDirectArenas=1",
            "-Dio.netty.allocator.numHeapArenas=0", "-Xss512k",
            "-XX:ReservedCodeCacheSize=48m", "-XX:MaxMetaspaceSize=96m", "-XX:-UsePerfData",
            "-XX:TrimNativeHeapInterval=5000");

    /** Added to {@link #TUNED}: C2 off, the smallest footprint measured, paid for in throughput. */
    public static final List<String> TUNED_C1_ONLY = List.of("-XX:TieredStopAtLevel=1");

    /** {@link #BASELINE} followed by {@link #TUNED_ONLY}. */
    public static final List<String> TUNED = concat(BASELINE, TUNED_ONLY);

    /**
     * Added for the telemetry agent ({@code NODEMESH_AGENT_JVM_FLAGS_ONLY} in {@code bin/lib.sh}): C1 alone, compiling
     * a method after 20 calls instead of 200. Its per-batch code runs a few times a second, so C2 kept compiling it for
     * minutes under churn (a third of the agent's CPU then), and with the default threshold it stayed interpreted for
     * minutes (a third of the agent's samples); C1 is fast enough by far for one node's reports. Measured in RESULTS.md.
     */
    public static final List<String> AGENT_ONLY = List.of("-XX:TieredStopAtLevel=1", "-XX:Tier3InvocationThreshold=20",
            "-XX:Tier3MinInvocationThreshold=10", "-XX:Tier3CompileThreshold=200");

    /** What {@code bin/nodemesh agent} runs with: {@link #TUNED} followed by {@link #AGENT_ONLY}. */
    public static final List<String> AGENT = concat(TUNED, AGENT_ONLY);

    /**
     * Environment for the tuned proxy: glibc creates up to 8 malloc arenas per core for the JVM's
     * native allocations from many threads; two are plenty for a proxy with a handful of threads.
     */
    public static final Map<String, String> TUNED_ENV = Map.of("MALLOC_ARENA_MAX", "2");

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

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> all = new ArrayList<>(a);
        all.addAll(b);
        return List.copyOf(all);
    }
}
