package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bounded buffer between the event loops and the reporter thread: a ring of slots allocated once, into which each
 * opening and closing is copied as numbers and references to the pod's long-lived names. Nothing queued is a fresh
 * object: under connection churn the events wait here for a fraction of a second, and as objects (an event, two
 * socket addresses and their holders, about 250 bytes a connection) they outlived young collections and doubled the
 * proxy's collection time (RESULTS.md, 2026-12-02).
 *
 * <p>Many producers, one consumer (Vyukov's bounded queue: each slot's sequence says whose turn it is). A producer
 * claims a position with one compare-and-set, fills the slot and publishes it; when the ring is full it is refused
 * at once. The consumer reads published slots in order without taking them ({@link #peek}), may change them while it
 * holds them, and hands them back with {@link #release}; slots it holds count against the capacity.
 */
final class EventRing {

    private static final VarHandle SEQUENCE;

    static {
        try {
            SEQUENCE = MethodHandles.lookup().findVarHandle(Slot.class, "sequence", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final Slot[] slots;
    private final int capacity;
    private final AtomicLong producerIndex = new AtomicLong();
    /** Written by the consumer only; read by producers for {@link #size}. */
    private volatile long consumerIndex;

    EventRing(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be positive, got " + capacity);
        }
        this.capacity = capacity;
        this.slots = new Slot[capacity];
        for (int i = 0; i < capacity; i++) {
            slots[i] = new Slot();
            slots[i].sequence = i;
        }
    }

    int capacity() {
        return capacity;
    }

    /** Copies {@code event} into a free slot and publishes it; false when the ring is full. Never blocks. */
    boolean offer(ConnectionEvent event) {
        long position = producerIndex.get();
        Slot slot;
        while (true) {
            slot = slots[(int) (position % capacity)];
            long sequence = (long) SEQUENCE.getAcquire(slot);
            if (sequence == position) {
                if (producerIndex.compareAndSet(position, position + 1)) {
                    break;
                }
                position = producerIndex.get();
            } else if (sequence < position) {
                return false; // the slot still holds an event from one lap ago: full
            } else {
                position = producerIndex.get(); // another producer took it
            }
        }
        // A slot that fails to fill is published as one to leave out: never left unpublished, which would stop the
        // consumer at it. Published with a volatile write so the caller's next volatile read (is the reporter parked?)
        // cannot be ordered before it (see TelemetryReporter.offer).
        slot.skip = true;
        try {
            slot.fill(event);
            slot.skip = false;
        } finally {
            SEQUENCE.setVolatile(slot, position + 1);
        }
        return true;
    }

    /** Events published or being written and not yet released (including those the consumer holds). */
    int size() {
        long consumed = consumerIndex;
        long size = producerIndex.get() - consumed;
        return (int) Math.max(0, Math.min(size, capacity));
    }

    /** Consumer: the position of the oldest slot not yet released. */
    long consumerIndex() {
        return consumerIndex;
    }

    /** Consumer: the published slot at {@code position} (from {@link #consumerIndex} on), or null if none yet. */
    Slot peek(long position) {
        Slot slot = slots[(int) (position % capacity)];
        return (long) SEQUENCE.getAcquire(slot) == position + 1 ? slot : null;
    }

    /**
     * Consumer: whether the slot at {@code position} is published, read as a volatile read: after the reporter says it
     * is about to park (a volatile write), a producer's publish is seen here or that producer sees the reporter parked.
     */
    boolean published(long position) {
        return (long) SEQUENCE.getVolatile(slots[(int) (position % capacity)]) == position + 1;
    }

    /** Consumer: hands every slot before {@code position} back to the producers. */
    void release(long position) {
        for (long p = consumerIndex; p < position; p++) {
            Slot slot = slots[(int) (p % capacity)];
            slot.clearReferences();
            SEQUENCE.setRelease(slot, p + capacity);
        }
        consumerIndex = position;
    }

    /**
     * One opening or closing as numbers. Written by the producer that claimed it, then owned by the consumer until
     * released; the consumer may set {@link #skip} and {@link #openReported} while it holds it.
     */
    static final class Slot {
        @SuppressWarnings("unused") // through SEQUENCE
        private volatile long sequence;

        boolean closing;
        Direction direction;
        String podNamespace;
        String podName;
        String podServiceAccount;
        /** 4, 6, or 0 for an address that is neither (unresolved). */
        byte sourceFamily;
        long sourceHigh;
        long sourceLow;
        int sourcePort;
        byte destinationFamily;
        long destinationHigh;
        long destinationLow;
        int destinationPort;
        long openedAtEpochMillis;
        long bytesFromSource;
        long bytesToSource;
        long durationNanos;
        Outcome outcome;
        Side endedBy;
        boolean openReported;
        boolean mutualTls;
        /** Consumer only: an opening whose closing travels in the same batch. */
        boolean skip;

        private void fill(ConnectionEvent event) {
            OpenedConnection o;
            switch (event) {
                case OpenedConnection opened -> {
                    o = opened;
                    closing = false;
                    bytesFromSource = 0;
                    bytesToSource = 0;
                    durationNanos = 0;
                    outcome = null;
                    endedBy = null;
                    openReported = false;
                }
                case ClosedConnection closed -> {
                    o = closed.opening();
                    closing = true;
                    bytesFromSource = closed.bytesFromSource();
                    bytesToSource = closed.bytesToSource();
                    durationNanos = closed.durationNanos();
                    outcome = closed.outcome();
                    endedBy = closed.endedBy();
                    openReported = closed.openReported();
                }
            }
            direction = o.direction();
            podNamespace = o.podNamespace();
            podName = o.podName();
            podServiceAccount = o.podServiceAccount();
            openedAtEpochMillis = o.openedAtEpochMillis();
            mutualTls = o.mutualTls();
            InetSocketAddress source = o.source();
            InetSocketAddress destination = o.destination();
            sourcePort = source.getPort();
            destinationPort = destination.getPort();
            InetAddress s = source.getAddress();
            byte[] s6 = ipv6(s);
            sourceFamily = family(s);
            sourceHigh = s6 == null ? 0 : bytes(s6, 0, 8);
            sourceLow = s6 == null ? ipv4(s) : bytes(s6, 8, 8);
            InetAddress d = destination.getAddress();
            byte[] d6 = ipv6(d);
            destinationFamily = family(d);
            destinationHigh = d6 == null ? 0 : bytes(d6, 0, 8);
            destinationLow = d6 == null ? ipv4(d) : bytes(d6, 8, 8);
        }

        /** Released slots keep no names alive (a removed pod's strings could otherwise linger a lap). */
        private void clearReferences() {
            direction = null;
            podNamespace = null;
            podName = null;
            podServiceAccount = null;
            outcome = null;
            endedBy = null;
        }

        /** Whether this opening and {@code closing}'s opening are the same connection. */
        boolean sameConnection(Slot closing) {
            return openedAtEpochMillis == closing.openedAtEpochMillis && sourcePort == closing.sourcePort
                    && destinationPort == closing.destinationPort && sourceLow == closing.sourceLow
                    && destinationLow == closing.destinationLow && sourceHigh == closing.sourceHigh
                    && destinationHigh == closing.destinationHigh && sourceFamily == closing.sourceFamily
                    && destinationFamily == closing.destinationFamily && direction == closing.direction
                    && podName.equals(closing.podName) && podNamespace.equals(closing.podNamespace);
        }

        /** A hash of what {@link #sameConnection} compares. */
        int connectionHash() {
            long h = openedAtEpochMillis * 31 + sourcePort;
            h = h * 31 + destinationPort;
            h = h * 31 + sourceLow;
            h = h * 31 + destinationLow;
            h = h * 31 + sourceHigh;
            h = h * 31 + destinationHigh;
            h = h * 31 + direction.ordinal();
            h = h * 31 + podName.hashCode();
            return Long.hashCode(h * 0x9E3779B97F4A7C15L);
        }

        /**
         * Whether {@link Inet4Address#hashCode} is the address as a number, as OpenJDK has always made it: then an IPv4
         * address is read without {@link InetAddress#getAddress}, which copies its bytes into a new array on every call
         * (about 100 bytes per connection on the event loop, not removed by escape analysis). Checked once; a JDK that
         * hashes otherwise gets the copy.
         */
        static final boolean IPV4_HASH_IS_ADDRESS = ipv4HashIsAddress();

        private static boolean ipv4HashIsAddress() {
            try {
                for (int v : new int[] {0, 0x0a4d0002, 0x7f000001, 0xc0a80101, 0xffffffff, 0x80000000}) {
                    InetAddress a = InetAddress.getByAddress(new byte[] {(byte) (v >>> 24), (byte) (v >>> 16),
                        (byte) (v >>> 8), (byte) v});
                    if (!(a instanceof Inet4Address) || a.hashCode() != v) {
                        return false;
                    }
                }
                return true;
            } catch (java.net.UnknownHostException e) {
                return false;
            }
        }

        static byte family(InetAddress address) {
            return address instanceof Inet6Address ? (byte) 6 : address == null ? 0 : (byte) 4;
        }

        /** The 16 bytes of an IPv6 address, copied once for both halves; null for any other. */
        private static byte[] ipv6(InetAddress address) {
            return address instanceof Inet6Address ? address.getAddress() : null;
        }

        /** An IPv4 address as a number; 0 for none. */
        static long ipv4(InetAddress address) {
            if (address == null) {
                return 0;
            }
            if (IPV4_HASH_IS_ADDRESS && address instanceof Inet4Address) {
                return address.hashCode() & 0xffff_ffffL; // no copy of the bytes on the event loop
            }
            return bytes(address.getAddress(), 0, 4);
        }

        private static long bytes(byte[] b, int from, int count) {
            long v = 0;
            for (int i = from; i < from + count; i++) {
                v = v << 8 | (b[i] & 0xff);
            }
            return v;
        }
    }
}
