package io.nodemesh.bench.load;

import java.util.concurrent.locks.LockSupport;

/** The time source and sleeper a paced sender uses; tests replace it with a fake that moves by hand. */
interface PacingClock {

    long nanoTime();

    /** Returns at, or as soon as possible after, {@code deadlineNanos}; at once if it has passed. */
    void sleepUntil(long deadlineNanos);

    /**
     * The real clock. {@code parkNanos} wakes up late by the kernel's timer slack (about 50 µs for a
     * normal thread), and that lateness would count as latency, since latency is measured from the
     * intended send time; so it parks until {@code spinNanos} before the deadline and spins the rest.
     */
    static PacingClock system(long spinNanos) {
        return new PacingClock() {
            @Override
            public long nanoTime() {
                return System.nanoTime();
            }

            @Override
            public void sleepUntil(long deadlineNanos) {
                long remaining;
                while ((remaining = deadlineNanos - System.nanoTime()) > spinNanos) {
                    LockSupport.parkNanos(remaining - spinNanos);
                    if (Thread.interrupted()) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                }
                while (deadlineNanos - System.nanoTime() > 0) {
                    Thread.onSpinWait();
                }
            }
        };
    }
}
