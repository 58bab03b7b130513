package io.nodemesh.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;

/**
 * New connections at a fixed rate, each one a short exchange with an {@link EchoServer} (connect, 8 bytes out, the
 * same 8 back, close), every failure counted (refused, reset, timed out, a wrong answer): what a pod sees of its
 * proxy being replaced. Sockets are made on a thread inside the client pod's namespace; the rest on virtual threads.
 */
final class ConnectionChurn implements AutoCloseable {

    private final ExecutorService inPod;
    private final InetSocketAddress echo;
    private final long intervalNanos;
    private final int timeoutMillis;
    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong inFlight = new AtomicLong();
    private final AtomicReference<Throwable> firstFailure = new AtomicReference<>();
    /** Failures by when their connection was started, in 100 ms slots from {@link #startedNanos}. */
    private final AtomicLongArray failedBySlot = new AtomicLongArray(3000);
    private final long startedNanos = System.nanoTime();
    /** Failures by exception type. */
    private final java.util.Map<String, AtomicLong> failedByKind = new java.util.concurrent.ConcurrentHashMap<>();
    private final Thread pacer;
    private volatile boolean stopped;

    private ConnectionChurn(ExecutorService inPod, InetSocketAddress echo, int perSecond, int timeoutMillis) {
        this.timeoutMillis = timeoutMillis;
        this.inPod = inPod;
        this.echo = echo;
        this.intervalNanos = 1_000_000_000L / perSecond;
        this.pacer = Thread.ofPlatform().name("churn").daemon(true).start(this::pace);
    }

    /** Starts opening {@code perSecond} connections a second to {@code echo}. */
    static ConnectionChurn start(ExecutorService inPod, InetSocketAddress echo, int perSecond) {
        return start(inPod, echo, perSecond, 5_000);
    }

    /** The same, each connection given {@code timeoutMillis} to connect and as much for its answer (default 5 s). */
    static ConnectionChurn start(ExecutorService inPod, InetSocketAddress echo, int perSecond, int timeoutMillis) {
        return new ConnectionChurn(inPod, echo, perSecond, timeoutMillis);
    }

    private void pace() {
        long next = System.nanoTime();
        while (!stopped) {
            next += intervalNanos;
            inFlight.incrementAndGet();
            Thread.ofVirtual().start(this::once);
            long wait = next - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
        }
    }

    private void once() {
        long begun = System.nanoTime();
        try {
            SocketChannel ch = inPod.submit((java.util.concurrent.Callable<SocketChannel>) SocketChannel::open).get();
            try (Socket s = ch.socket()) {
                s.connect(echo, timeoutMillis);
                s.setSoTimeout(timeoutMillis);
                byte[] ping = {'p', 'i', 'n', 'g', '-', 'o', 'k', '!'};
                s.getOutputStream().write(ping);
                InputStream in = s.getInputStream();
                byte[] back = in.readNBytes(ping.length);
                if (!java.util.Arrays.equals(back, ping)) {
                    throw new IOException("answer " + back.length + " bytes, not the 8 sent");
                }
            }
            ok.incrementAndGet();
        } catch (Exception e) {
            failed.incrementAndGet();
            firstFailure.compareAndSet(null, e);
            int slot = (int) Math.min(failedBySlot.length() - 1, (begun - startedNanos) / 100_000_000L);
            failedBySlot.incrementAndGet(slot);
            failedByKind.computeIfAbsent(e.getClass().getSimpleName(), k -> new AtomicLong()).incrementAndGet();
        } finally {
            inFlight.decrementAndGet();
        }
    }

    long ok() {
        return ok.get();
    }

    long failed() {
        return failed.get();
    }

    /**
     * When the failed connections were started: "+1.2s: 35" for each 100 ms with failures, from {@code origin} (a
     * {@link System#nanoTime()}), e.g. the moment a new proxy was launched.
     */
    String failureTimeline(long originNanos) {
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < failedBySlot.length(); i++) {
            long n = failedBySlot.get(i);
            if (n > 0) {
                double at = (startedNanos + i * 100_000_000L - originNanos) / 1e9;
                out.append(out.isEmpty() ? "" : ", ").append(String.format("%+.1fs: %d", at, n));
            }
        }
        return out.isEmpty() ? "none" : out.toString();
    }

    /** Failed connections by exception type, e.g. {SocketTimeoutException=3, IOException=1}. */
    String failureKinds() {
        return new java.util.TreeMap<>(failedByKind).toString();
    }

    /** The first failure, or null. */
    Throwable firstFailure() {
        return firstFailure.get();
    }

    /** Stops starting connections and waits (up to 10 s) for those under way. */
    @Override
    public void close() throws InterruptedException {
        stopped = true;
        pacer.join();
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }
}
