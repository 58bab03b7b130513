package io.nodemesh.proxy.discovery;

import java.util.List;

/**
 * A workload source's state, for the admin API.
 *
 * @param source what the source reads ({@link WorkloadSource#describe()})
 * @param loadedAtMillis when the view in force was taken (epoch milliseconds; 0 before the first)
 * @param lastError why the latest change was rejected, or null if it was accepted
 * @param details a line each on what the source follows, for an operator (the Kubernetes source: each kind, how many
 *     objects, whether its watch is open); empty when there is nothing more to say
 */
public record SourceStatus(String source, long loadedAtMillis, String lastError, List<String> details) {

    public SourceStatus {
        details = List.copyOf(details);
    }

    /** A status without details. */
    public SourceStatus(String source, long loadedAtMillis, String lastError) {
        this(source, loadedAtMillis, lastError, List.of());
    }
}
