package io.nodemesh.bench.load;

import org.HdrHistogram.Histogram;

/**
 * One connection's latency record. {@code corrected} measures from the moment a request was
 * <em>due</em> (so a stall also charges the requests queued behind it: coordinated-omission
 * correction), {@code service} from the moment it was actually sent. Not thread-safe.
 */
final class LatencyRecorder {

    private final long warmupEndNanos;
    private final Histogram corrected = Histograms.newLatencyHistogram();
    private final Histogram service = Histograms.newLatencyHistogram();
    private long lastCompletionNanos;
    private boolean anyCompletion;

    LatencyRecorder(long warmupEndNanos) {
        this.warmupEndNanos = warmupEndNanos;
    }

    /** Records one completed exchange unless it was due during the warm-up. */
    void record(long intendedNanos, long sentNanos, long completedNanos) {
        if (intendedNanos - warmupEndNanos < 0) {
            return;
        }
        Histograms.recordNanos(corrected, completedNanos - intendedNanos);
        Histograms.recordNanos(service, completedNanos - sentNanos);
        if (!anyCompletion || completedNanos - lastCompletionNanos > 0) {
            lastCompletionNanos = completedNanos;
        }
        anyCompletion = true;
    }

    Histogram corrected() {
        return corrected;
    }

    Histogram service() {
        return service;
    }

    /** When the last recorded exchange completed, or {@code fallback} if none did. */
    long lastCompletionNanos(long fallback) {
        return anyCompletion ? lastCompletionNanos : fallback;
    }
}
