package io.nodemesh.bench.load;

import java.io.PrintStream;
import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

/**
 * Tells whoever runs a load tool, on its stderr, when the measured window opens (the warm-up is over) and when it
 * closes, so that the harness can count a subject's CPU over the window alone: a proxy's first seconds under a new
 * load are JIT compilation, which the window leaves out exactly as the tool's own figures do.
 */
public final class MeasuredWindow implements AutoCloseable {

    /** The line printed when the warm-up ends. */
    public static final String OPENS = "nodemesh-load: measured window opens";
    /** The line printed when the measured time has passed (exchanges in flight may still complete). */
    public static final String CLOSES = "nodemesh-load: measured window closes";

    private final long closesAt;
    private final Thread thread;

    private MeasuredWindow(long opensAt, long closesAt, PrintStream err) {
        this.closesAt = closesAt;
        this.thread = Thread.ofPlatform().name("measured-window").daemon().start(() -> {
            if (sleepUntil(opensAt)) {
                announce(err, OPENS);
                if (sleepUntil(closesAt)) {
                    announce(err, CLOSES);
                }
            }
        });
    }

    /**
     * Prints {@link #OPENS} on {@code err} after {@code warmup} and {@link #CLOSES} after a further {@code duration},
     * both counted from now; the tool starts its own clock right after this returns.
     */
    static MeasuredWindow announce(Duration warmup, Duration duration, PrintStream err) {
        long opensAt = System.nanoTime() + warmup.toNanos();
        return new MeasuredWindow(opensAt, opensAt + duration.toNanos(), err);
    }

    /**
     * Waits until {@link #CLOSES} is printed when the window's time has passed; a run that ended before that (it
     * failed, or hit its count limit) announces nothing more, so no reader takes it for a complete window.
     */
    @Override
    public void close() throws InterruptedException {
        if (System.nanoTime() - closesAt < 0) {
            thread.interrupt();
        }
        thread.join(Duration.ofSeconds(1));
    }

    private static void announce(PrintStream err, String line) {
        err.println(line);
        err.flush();
    }

    /** Sleeps until {@code deadline}; false if interrupted first. */
    private static boolean sleepUntil(long deadline) {
        for (long left; (left = deadline - System.nanoTime()) > 0; ) {
            LockSupport.parkNanos(left);
            if (Thread.interrupted()) {
                return false;
            }
        }
        return true;
    }
}
