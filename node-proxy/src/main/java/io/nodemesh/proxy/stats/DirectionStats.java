package io.nodemesh.proxy.stats;

import io.nodemesh.proxy.model.Outcome;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/** Counters of one traffic direction (outbound or inbound) of one pod or the whole node; updates never allocate. */
public final class DirectionStats {

    private final LongAdder opened = new LongAdder();
    private final LongAdder active = new LongAdder();
    private final LongAdder[] closed = new LongAdder[Outcome.values().length];
    private final LongAdder bytesFromSource = new LongAdder();
    private final LongAdder bytesToSource = new LongAdder();

    public DirectionStats() {
        for (int i = 0; i < closed.length; i++) {
            closed[i] = new LongAdder();
        }
    }

    /** Counts a connection that opened. */
    public void opened() {
        opened.increment();
        active.increment();
    }

    /** Counts a finished connection with its bytes. */
    public void closed(Outcome outcome, long fromSource, long toSource) {
        active.decrement();
        closed[outcome.ordinal()].increment();
        bytesFromSource.add(fromSource);
        bytesToSource.add(toSource);
    }

    /** A point-in-time copy. */
    public Snapshot snapshot() {
        Map<Outcome, Long> byOutcome = new EnumMap<>(Outcome.class);
        long total = 0;
        for (Outcome o : Outcome.values()) {
            long n = closed[o.ordinal()].sum();
            total += n;
            if (n > 0) {
                byOutcome.put(o, n);
            }
        }
        return new Snapshot(opened.sum(), active.sum(), total, byOutcome, bytesFromSource.sum(), bytesToSource.sum());
    }

    /**
     * Counters at one moment. Bytes are counted when a connection closes.
     *
     * @param opened connections whose original destination was read
     * @param active opened and not yet closed
     * @param closed finished connections
     * @param closedByOutcome finished connections by how they ended (only non-zero outcomes)
     * @param bytesFromSource bytes forwarded from the connecting side, of finished connections
     * @param bytesToSource bytes forwarded back to it, of finished connections
     */
    public record Snapshot(long opened, long active, long closed, Map<Outcome, Long> closedByOutcome,
                           long bytesFromSource, long bytesToSource) {
        public Snapshot {
            closedByOutcome = Map.copyOf(closedByOutcome);
        }
    }
}
