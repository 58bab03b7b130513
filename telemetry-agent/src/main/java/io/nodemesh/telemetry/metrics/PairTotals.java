package io.nodemesh.telemetry.metrics;

/**
 * Totals for one source → destination pair, as {@code /top} serves them and {@code nodemesh top}
 * prints them.
 *
 * @param bytesSent bytes from source to destination
 * @param bytesReceived bytes from destination back to source
 * @param connections finished connections
 * @param errors finished connections whose response flags are not "-"
 */
public record PairTotals(
        String sourceWorkload,
        String sourceNamespace,
        String destinationWorkload,
        String destinationNamespace,
        String destinationService,
        long bytesSent,
        long bytesReceived,
        long connections,
        long errors) {

    /** Bytes both ways, the default sort key of {@code /top}. */
    public long bytes() {
        return bytesSent + bytesReceived;
    }
}
