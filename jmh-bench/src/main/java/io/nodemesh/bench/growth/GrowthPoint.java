package io.nodemesh.bench.growth;

/**
 * The idle proxy with {@code pods} captured pods, under one JVM variant.
 *
 * @param variant JVM variant name
 * @param pods captured pods in its config
 * @param rssKb resident set size at the end of the idle window, KiB
 * @param rssAnonKb the anonymous part of it ({@code RssAnon}: heap, metaspace, malloc, stacks), KiB
 * @param idleCpuSeconds CPU seconds (user + system) the proxy used during the idle window
 * @param idleSeconds length of the idle window
 * @param listeningPods pods the admin {@code /stats} reported as listening
 * @param sockets open socket descriptors of the proxy process (listeners, admin, internal)
 * @param readyMillis from launching the JVM to every pod listening
 */
public record GrowthPoint(String variant, int pods, long rssKb, long rssAnonKb, double idleCpuSeconds, double idleSeconds,
                          int listeningPods, int sockets, long readyMillis) {

    /** Idle CPU as a fraction of one core. */
    public double idleCores() {
        return idleCpuSeconds / idleSeconds;
    }
}
