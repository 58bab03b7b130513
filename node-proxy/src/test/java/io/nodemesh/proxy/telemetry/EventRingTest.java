package io.nodemesh.proxy.telemetry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The ring between the event loops and the reporter thread: copies, bounds, order, and many producers at once. */
class EventRingTest {

    @Test
    void anOpeningAndAClosingAreCopiedIntoSlotsAsNumbers() throws Exception {
        EventRing ring = new EventRing(4);
        OpenedConnection opening = opening("10.77.0.2", 40_000, "fd77:1:2:3:4:5:6:ff03", 443, 1_700_000_000_123L);
        assertThat(ring.offer(opening)).isTrue();
        assertThat(ring.offer(new ClosedConnection(opening, 10, 20, 30, Outcome.RESET, true))).isTrue();

        EventRing.Slot o = ring.peek(0);
        assertThat(o.closing).isFalse();
        assertThat(o.skip).isFalse();
        assertThat(o.direction).isEqualTo(Direction.INBOUND);
        assertThat(List.of(o.podNamespace, o.podName, o.podServiceAccount)).containsExactly("shop", "reviews-1", "reviews");
        assertThat(o.sourceFamily).isEqualTo((byte) 4);
        assertThat(RecordMapper.address(o.sourceFamily, o.sourceHigh, o.sourceLow))
                .isEqualTo(InetAddress.getByName("10.77.0.2"));
        assertThat(o.sourcePort).isEqualTo(40_000);
        assertThat(o.destinationFamily).isEqualTo((byte) 6);
        assertThat(RecordMapper.address(o.destinationFamily, o.destinationHigh, o.destinationLow))
                .isEqualTo(InetAddress.getByName("fd77:1:2:3:4:5:6:ff03"));
        assertThat(o.destinationPort).isEqualTo(443);
        assertThat(o.openedAtEpochMillis).isEqualTo(1_700_000_000_123L);

        EventRing.Slot c = ring.peek(1);
        assertThat(c.closing).isTrue();
        assertThat(List.of(c.bytesFromSource, c.bytesToSource, c.durationNanos)).containsExactly(10L, 20L, 30L);
        assertThat(c.outcome).isEqualTo(Outcome.RESET);
        assertThat(c.openReported).isTrue();
        assertThat(o.sameConnection(c)).isTrue();
        assertThat(o.connectionHash()).isEqualTo(c.connectionHash());
        assertThat(ring.peek(2)).isNull();
        assertThat(ring.size()).isEqualTo(2);
    }

    @Test
    void ipv4AddressesReadWithoutACopyAreTheSameNumbers() throws Exception {
        assertThat(EventRing.Slot.IPV4_HASH_IS_ADDRESS).isTrue(); // this JDK: the copy-free path is the one tested
        for (String a : List.of("0.0.0.0", "10.77.0.2", "127.0.0.1", "192.168.255.254", "255.255.255.255", "128.0.0.1")) {
            InetAddress address = InetAddress.getByName(a);
            byte[] b = address.getAddress();
            long expected = (b[0] & 0xffL) << 24 | (b[1] & 0xff) << 16 | (b[2] & 0xff) << 8 | (b[3] & 0xff);
            assertThat(EventRing.Slot.ipv4(address)).as(a).isEqualTo(expected);
            assertThat(RecordMapper.address((byte) 4, 0, EventRing.Slot.ipv4(address))).isEqualTo(address);
        }
    }

    @Test
    void connectionsDifferingInOneEndAreNotTheSame() throws Exception {
        EventRing ring = new EventRing(4);
        ring.offer(opening("10.77.0.2", 40_000, "10.77.0.3", 443, 5));
        ring.offer(opening("10.77.0.2", 40_001, "10.77.0.3", 443, 5));
        ring.offer(opening("10.77.0.2", 40_000, "10.77.0.4", 443, 5));
        ring.offer(opening("10.77.0.2", 40_000, "10.77.0.3", 443, 6));
        for (int i = 1; i < 4; i++) {
            assertThat(ring.peek(0).sameConnection(ring.peek(i))).as("slot %d", i).isFalse();
        }
    }

    @Test
    void anUnresolvedAddressTravelsAsNoAddress() throws Exception {
        EventRing ring = new EventRing(1);
        ring.offer(new OpenedConnection(Direction.OUTBOUND, "ns", "pod", "sa",
                InetSocketAddress.createUnresolved("nowhere.invalid", 1), new InetSocketAddress(
                        InetAddress.getByName("10.77.0.3"), 2), 0));

        assertThat(ring.peek(0).sourceFamily).isZero();
        assertThat(RecordMapper.address((byte) 0, 0, 0)).isNull();
    }

    @Test
    void aFullRingRefusesAtOnceAndTakesAgainAfterRelease() throws Exception {
        EventRing ring = new EventRing(3);
        for (int lap = 0; lap < 5; lap++) {
            long first = ring.consumerIndex();
            for (int i = 0; i < 3; i++) {
                assertThat(ring.offer(opening("10.77.0.2", lap * 10 + i, "10.77.0.3", 1, 0))).isTrue();
            }
            assertThat(ring.offer(opening("10.77.0.2", 9, "10.77.0.3", 1, 0))).isFalse();
            assertThat(ring.size()).isEqualTo(3);
            for (int i = 0; i < 3; i++) {
                assertThat(ring.peek(first + i).sourcePort).isEqualTo(lap * 10 + i);
            }
            ring.release(first + 2); // held slots count against the capacity
            assertThat(ring.size()).isEqualTo(1);
            assertThat(ring.peek(first + 2).sourcePort).isEqualTo(lap * 10 + 2);
            ring.release(first + 3);
            assertThat(ring.size()).isZero();
            assertThat(ring.peek(first + 3)).isNull();
        }
    }

    @Test
    void aReleasedSlotKeepsNoNamesAlive() throws Exception {
        EventRing ring = new EventRing(2);
        ring.offer(opening("10.77.0.2", 1, "10.77.0.3", 2, 0));
        EventRing.Slot slot = ring.peek(0);
        ring.release(1);

        assertThat(slot.podName).isNull();
        assertThat(slot.podNamespace).isNull();
        assertThat(slot.direction).isNull();
    }

    @Test
    void anEventThatCannotBeCopiedIsPublishedAsOneToLeaveOut() throws Exception {
        EventRing ring = new EventRing(2);
        assertThatThrownBy(() -> ring.offer(null)).isInstanceOf(NullPointerException.class);
        ring.offer(opening("10.77.0.2", 1, "10.77.0.3", 2, 0));

        assertThat(ring.peek(0)).isNotNull(); // the consumer is not stuck at the failed slot
        assertThat(ring.peek(0).skip).isTrue();
        assertThat(ring.peek(1).skip).isFalse();
        assertThat(ring.peek(1).sourcePort).isEqualTo(1);
    }

    @Test
    void manyProducersAndOneConsumerLoseNothingAndTearNothing() throws Exception {
        int producers = 4;
        int perProducer = 50_000;
        EventRing ring = new EventRing(512);
        AtomicLong refused = new AtomicLong();
        AtomicBoolean done = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        InetSocketAddress destination = new InetSocketAddress(InetAddress.getByName("10.77.0.3"), 8080);
        for (int p = 0; p < producers; p++) {
            int producer = p;
            threads.add(Thread.ofPlatform().start(() -> {
                OpenedConnection o = new OpenedConnection(Direction.OUTBOUND, "ns", "pod-" + producer,
                        "sa", new InetSocketAddress(InetAddress.getLoopbackAddress(), 1000 + producer), destination, 0);
                for (int i = 0; i < perProducer; i++) {
                    // bytes each way and duration carry the producer and the count, so a torn slot would show
                    if (!ring.offer(new ClosedConnection(o, i, producer, (long) producer * perProducer + i,
                            Outcome.OK))) {
                        refused.incrementAndGet();
                    }
                }
            }));
        }
        long[] received = new long[producers];
        long[] lastSeen = new long[producers];
        java.util.Arrays.fill(lastSeen, -1);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        Thread stopper = Thread.ofPlatform().start(() -> {
            threads.forEach(t -> {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            done.set(true);
        });
        while (System.nanoTime() < deadline) {
            boolean finished = done.get();
            long position = ring.consumerIndex();
            long end = position;
            EventRing.Slot slot;
            while ((slot = ring.peek(end)) != null && end - position < 100) {
                int producer = (int) slot.bytesToSource;
                assertThat(slot.podName).isEqualTo("pod-" + producer);
                assertThat(slot.sourcePort).isEqualTo(1000 + producer);
                assertThat(slot.durationNanos).isEqualTo((long) producer * perProducer + slot.bytesFromSource);
                assertThat(slot.bytesFromSource).isGreaterThan(lastSeen[producer]); // each producer's order is kept
                lastSeen[producer] = slot.bytesFromSource;
                received[producer]++;
                end++;
            }
            ring.release(end);
            if (finished && end == position && ring.size() == 0) {
                break;
            }
        }
        stopper.join();

        assertThat(java.util.Arrays.stream(received).sum() + refused.get()).isEqualTo((long) producers * perProducer);
        assertThat(ring.size()).isZero();
    }

    private static OpenedConnection opening(String source, int sourcePort, String destination, int destinationPort,
            long openedAt) throws Exception {
        return new OpenedConnection(Direction.INBOUND, "shop", "reviews-1", "reviews",
                new InetSocketAddress(InetAddress.getByName(source), sourcePort),
                new InetSocketAddress(InetAddress.getByName(destination), destinationPort), openedAt);
    }
}
