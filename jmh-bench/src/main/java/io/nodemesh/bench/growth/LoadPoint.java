package io.nodemesh.bench.growth;

/**
 * The proxy's memory and CPU while relaying load for one captured pod, under one JVM variant.
 *
 * @param variant JVM variant name
 * @param phase what load ran ({@code "1000 req/s"}, {@code "max rate"})
 * @param requestsPerSecond what the load tool reported it achieved
 * @param rssKb resident set size at the end of the phase, KiB
 * @param rssAnonKb the anonymous part of it ({@code RssAnon}), KiB
 * @param peakRssKb peak resident set size of the process so far ({@code VmHWM}), KiB
 * @param cpuSeconds proxy CPU seconds during the phase
 * @param seconds wall time of the phase
 * @param errors errors the load tool reported
 */
public record LoadPoint(String variant, String phase, double requestsPerSecond, long rssKb, long rssAnonKb, long peakRssKb,
                        double cpuSeconds, double seconds, long errors) {
}
