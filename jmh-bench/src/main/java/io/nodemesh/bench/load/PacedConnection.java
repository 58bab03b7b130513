package io.nodemesh.bench.load;

import java.io.IOException;

/**
 * One connection of a fixed-rate run: request {@code k} is due at {@code first + k·interval};
 * the sender sleeps until then, or sends at once when it is behind (a late response delays the
 * next send, and the corrected latency shows that wait instead of hiding it).
 */
final class PacedConnection implements Runnable {

    private final RoundTripper tripper;
    private final PacingClock clock;
    private final long firstDueNanos;
    private final long intervalNanos;
    private final long endNanos;
    private final long maxRequests;
    private final LatencyRecorder recorder;
    private final ErrorCounts errors = new ErrorCounts();
    private volatile boolean stopped;
    private long attempts;

    /**
     * @param firstDueNanos when request 0 is due
     * @param endNanos no request due at or after this is sent
     * @param maxRequests at most this many requests are attempted
     */
    PacedConnection(RoundTripper tripper, PacingClock clock, long firstDueNanos, long intervalNanos,
                    long warmupEndNanos, long endNanos, long maxRequests) {
        this.tripper = tripper;
        this.clock = clock;
        this.firstDueNanos = firstDueNanos;
        this.intervalNanos = intervalNanos;
        this.endNanos = endNanos;
        this.maxRequests = maxRequests;
        this.recorder = new LatencyRecorder(warmupEndNanos);
    }

    @Override
    public void run() {
        for (long k = 0; k < maxRequests && !stopped; k++) {
            long due = firstDueNanos + k * intervalNanos;
            if (due - endNanos >= 0) {
                break;
            }
            clock.sleepUntil(due);
            long sent = clock.nanoTime();
            attempts++;
            try {
                tripper.roundTrip();
                recorder.record(due, sent, clock.nanoTime());
            } catch (IOException e) {
                if (stopped) {
                    break; // the run's deadline closed the socket under us; not the target's fault
                }
                errors.count(e);
                tripper.disconnect(); // the next due request reconnects
            }
        }
        tripper.disconnect();
    }

    /** Asks the loop to finish; the caller also disconnects the tripper to unblock a pending read. */
    void stop() {
        stopped = true;
        tripper.disconnect();
    }

    LatencyRecorder recorder() {
        return recorder;
    }

    ErrorCounts errors() {
        return errors;
    }

    long attempts() {
        return attempts;
    }
}
