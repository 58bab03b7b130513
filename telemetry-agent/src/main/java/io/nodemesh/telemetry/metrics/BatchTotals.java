package io.nodemesh.telemetry.metrics;

import io.nodemesh.telemetry.v1.ConnectionPhase;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import java.util.function.Consumer;

/**
 * One batch's connection records summed per label set before they touch the shared series: a batch of
 * 2048 records from one proxy names far fewer distinct label sets, so the series look-up (hashing
 * twelve label strings) and the counter updates happen once per set instead of once per record.
 *
 * <p>A record's label set is identified by a packed key of what decides it in a reporter's usual
 * record: direction, phase, outcome, security policy and the batch-table references of both workloads
 * and the service. Records that name workloads or services inline, or carry their own response flags,
 * do not pack ({@link #key} returns -1) and are aggregated one by one by the caller.
 */
final class BatchTotals {

    /** The sums of one label set, and the first record that has it (to build its labels once). */
    static final class Sums {
        final ConnectionRecord first;
        long records;
        long opened;
        long closed;
        long requestBytes;
        long responseBytes;

        Sums(ConnectionRecord first) {
            this.first = first;
        }

        void add(ConnectionRecord r) {
            records++;
            if (r.getPhase() == ConnectionPhase.CONNECTION_PHASE_OPENED) {
                opened++;
                return;
            }
            if (!r.getOpenReported()) {
                opened++;
            }
            closed++;
            requestBytes += r.getBytesSent();
            responseBytes += r.getBytesReceived();
        }
    }

    private static final int REF_BITS = 16;
    private static final int MAX_REF = (1 << REF_BITS) - 1;

    private final long[] keys;
    private final Sums[] sums;
    private final int mask;

    /** Room for {@code records} distinct keys at a load factor of at most one half. */
    BatchTotals(int records) {
        int capacity = Integer.highestOneBit(Math.max(records, 8) * 2 - 1) << 1;
        keys = new long[capacity];
        sums = new Sums[capacity];
        mask = capacity - 1;
    }

    /** The packed label-set key of {@code r}, or -1 when it has to be aggregated on its own. */
    static long key(ConnectionRecord r) {
        int source = r.getSourceRef();
        int destination = r.getDestinationRef();
        int service = r.getDestinationServiceRef();
        if (source < 0 || source > MAX_REF || destination < 0 || destination > MAX_REF || service < 0 || service > MAX_REF
                || (source == 0 && r.hasSource()) || (destination == 0 && r.hasDestination())
                || (service == 0 && !r.getDestinationService().isEmpty()) || !r.getResponseFlags().isEmpty()) {
            return -1;
        }
        long k = r.getDirectionValue() & 0x3;
        k = k << 1 | (r.getPhase() == ConnectionPhase.CONNECTION_PHASE_OPENED ? 1 : 0);
        // An opening has no outcome yet; a closing's outcome and the side that ended it pick its response flags.
        k = k << 4 | (r.getPhase() == ConnectionPhase.CONNECTION_PHASE_OPENED ? 0 : r.getOutcomeValue() & 0xf);
        k = k << 2 | (r.getPhase() == ConnectionPhase.CONNECTION_PHASE_OPENED ? 0 : r.getEndedByValue() & 0x3);
        k = k << 2 | (r.getSecurityPolicyValue() & 0x3);
        k = k << REF_BITS | source;
        k = k << REF_BITS | destination;
        k = k << REF_BITS | service;
        return k;
    }

    /** Adds {@code r}, whose {@link #key} is {@code key} (not -1). */
    void add(long key, ConnectionRecord r) {
        // Stored keys are offset by one so that 0 marks an empty slot.
        long stored = key + 1;
        int i = (int) mix(stored) & mask;
        while (keys[i] != 0 && keys[i] != stored) {
            i = (i + 1) & mask;
        }
        if (keys[i] == 0) {
            keys[i] = stored;
            sums[i] = new Sums(r);
        }
        sums[i].add(r);
    }

    void forEach(Consumer<Sums> action) {
        for (Sums s : sums) {
            if (s != null) {
                action.accept(s);
            }
        }
    }

    private static long mix(long k) {
        k ^= k >>> 33;
        k *= 0xff51afd7ed558ccdL;
        k ^= k >>> 33;
        return k;
    }
}
