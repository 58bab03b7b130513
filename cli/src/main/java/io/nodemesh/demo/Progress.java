package io.nodemesh.demo;

import io.nodemesh.cli.Vocabulary;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The demo's progress while its traffic runs: a line every {@code every} (none for a run that ends sooner), with
 * connections done, bytes moved and the rate since the start. Counters are updated by the connections' threads.
 */
final class Progress implements AutoCloseable {

    private final int total;
    private final AtomicInteger done = new AtomicInteger();
    private final AtomicLong out = new AtomicLong();
    private final AtomicLong back = new AtomicLong();
    private final long startNanos = System.nanoTime();
    private Thread printer;

    Progress(int total) {
        this.total = total;
    }

    /** Prints a line to {@code to} every {@code every} until {@link #close()}. */
    Progress printEvery(PrintWriter to, Duration every) {
        printer = Thread.ofVirtual().name("demo-progress").start(() -> {
            try {
                while (true) {
                    Thread.sleep(every);
                    to.println(line());
                    to.flush();
                }
            } catch (InterruptedException stopped) {
                // the traffic is over
            }
        });
        return this;
    }

    void sent(long n) {
        out.addAndGet(n);
    }

    void received(long n) {
        back.addAndGet(n);
    }

    void connectionDone() {
        done.incrementAndGet();
    }

    /** {@code progress  340 of 1000 connections done, 6.3 GiB moved (3.2 GiB out, 3.1 GiB back), 540 MiB/s}. */
    String line() {
        long o = out.get();
        long b = back.get();
        double seconds = Math.max(1e-3, (System.nanoTime() - startNanos) / 1e9);
        return String.format("progress  %d of %d connections done, %s moved (%s out, %s back), %s/s", done.get(), total,
                Vocabulary.bytes(o + b), Vocabulary.bytes(o), Vocabulary.bytes(b), Vocabulary.bytes((long) ((o + b) / seconds)));
    }

    @Override
    public void close() throws InterruptedException {
        if (printer != null) {
            printer.interrupt();
            printer.join();
        }
    }
}
