package io.nodemesh.discovery.kubernetes;

import java.time.Duration;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Turns a burst of changes into few runs of one action: the action runs once the changes have been quiet for
 * {@code quiet}, or {@code max} after the first change of the burst if they never are, on the executor given by
 * {@link #attach}. Changes before that only mark it due. {@link #changed()} may be called from any thread.
 */
final class Debounce {

    private final long quietNanos;
    private final long maxNanos;
    private final Runnable action;
    private ScheduledExecutorService executor;
    private ScheduledFuture<?> scheduled;
    private long firstChange = -1;
    private long lastChange;
    private boolean closed;

    Debounce(Duration quiet, Duration max, Runnable action) {
        this.quietNanos = quiet.toNanos();
        this.maxNanos = Math.max(max.toNanos(), quietNanos);
        this.action = action;
    }

    /** Runs the action on {@code on} from now on, at once (after {@code quiet}) if changes came before. */
    synchronized void attach(ScheduledExecutorService on) {
        executor = on;
        if (firstChange >= 0) {
            schedule(quietNanos);
        }
    }

    /** Notes a change: the action runs within {@code max} from the first change not yet acted on. */
    synchronized void changed() {
        long now = System.nanoTime();
        lastChange = now;
        if (firstChange < 0) {
            firstChange = now;
        }
        if (scheduled == null) {
            schedule(quietNanos);
        }
    }

    /** Stops: a run already under way finishes, none starts after. */
    synchronized void close() {
        closed = true;
        if (scheduled != null) {
            scheduled.cancel(false);
            scheduled = null;
        }
    }

    private void schedule(long delayNanos) {
        if (executor != null && !closed) {
            scheduled = executor.schedule(this::fire, delayNanos, TimeUnit.NANOSECONDS);
        }
    }

    private void fire() {
        synchronized (this) {
            scheduled = null;
            if (closed || firstChange < 0) {
                return;
            }
            long now = System.nanoTime();
            long due = Math.min(lastChange + quietNanos, firstChange + maxNanos);
            if (now - due < 0) {
                schedule(due - now);
                return;
            }
            firstChange = -1; // changes from here on start the next burst
        }
        action.run();
    }
}
