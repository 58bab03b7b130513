package io.nodemesh.proxy.stats;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/** Node-wide totals over every pod, present and past, and the most recently closed connections. */
public final class NodeStats {

    private static final int RECENT = 256;

    private final DirectionStats outbound = new DirectionStats();
    private final DirectionStats inbound = new DirectionStats();
    private final LongAdder notRedirected = new LongAdder();
    private final TunnelStats tunnel = new TunnelStats();
    private final AtomicReferenceArray<ClosedConnection> recent = new AtomicReferenceArray<>(RECENT);
    private final AtomicLong recentCursor = new AtomicLong();

    public DirectionStats direction(Direction d) {
        return d == Direction.OUTBOUND ? outbound : inbound;
    }

    /** The mutual-TLS tunnel's counters, every pod's. */
    public TunnelStats tunnel() {
        return tunnel;
    }

    /** Counts a connection that reached a capture port without being redirected. */
    public void notRedirected() {
        notRedirected.increment();
    }

    public long notRedirectedCount() {
        return notRedirected.sum();
    }

    /** Keeps {@code c} among the recently closed connections. */
    public void remember(ClosedConnection c) {
        recent.set((int) (recentCursor.getAndIncrement() % RECENT), c);
    }

    /** Up to the last 256 closed connections, newest first. */
    public List<ClosedConnection> recent() {
        long end = recentCursor.get();
        List<ClosedConnection> out = new ArrayList<>();
        for (long i = end - 1; i >= 0 && i >= end - RECENT; i--) {
            ClosedConnection c = recent.get((int) (i % RECENT));
            if (c != null) {
                out.add(c);
            }
        }
        return out;
    }
}
