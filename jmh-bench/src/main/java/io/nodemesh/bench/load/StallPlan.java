package io.nodemesh.bench.load;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Makes a {@link LoadServer} hold back one response once, after a given number of requests across
 * all connections: the deterministic hiccup that shows coordinated-omission correction at work.
 */
final class StallPlan {

    private final long afterRequests;
    private final long stallNanos;
    private final AtomicLong completed = new AtomicLong();

    StallPlan(long afterRequests, Duration stall) {
        this.afterRequests = afterRequests;
        this.stallNanos = stall.toNanos();
    }

    static StallPlan never() {
        return new StallPlan(0, Duration.ZERO);
    }

    /** Counts one complete request; true for exactly the one whose response must wait. */
    boolean shouldStall() {
        return afterRequests > 0 && stallNanos > 0 && completed.incrementAndGet() == afterRequests;
    }

    long stallNanos() {
        return stallNanos;
    }
}
