package io.nodemesh.telemetry.accesslog;

import java.util.function.LongSupplier;

/** A token bucket holding up to one second's worth of tokens; not thread-safe (callers lock). */
final class TokenBucket {

    private final double perSecond;
    private final LongSupplier nanoClock;
    private double tokens;
    private long lastRefillNanos;

    TokenBucket(double perSecond, LongSupplier nanoClock) {
        this.perSecond = perSecond;
        this.nanoClock = nanoClock;
        this.tokens = perSecond;
        this.lastRefillNanos = nanoClock.getAsLong();
    }

    /** Takes one token if there is one. */
    boolean tryTake() {
        long now = nanoClock.getAsLong();
        tokens = Math.min(perSecond, tokens + (now - lastRefillNanos) * perSecond / 1e9);
        lastRefillNanos = now;
        if (tokens >= 1) {
            tokens -= 1;
            return true;
        }
        return false;
    }
}
