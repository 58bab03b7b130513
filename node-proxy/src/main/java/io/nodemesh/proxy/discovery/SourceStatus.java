package io.nodemesh.proxy.discovery;

/**
 * A workload source's state, for the admin API.
 *
 * @param source what the source reads ({@link WorkloadSource#describe()})
 * @param loadedAtMillis when the view in force was taken (epoch milliseconds; 0 before the first)
 * @param lastError why the latest change was rejected, or null if it was accepted
 */
public record SourceStatus(String source, long loadedAtMillis, String lastError) {
}
