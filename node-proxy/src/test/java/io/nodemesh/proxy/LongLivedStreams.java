package io.nodemesh.proxy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The upgrade drills' long-lived connections: {@code count} {@link StreamingClient}s to an {@link EchoServer}, each on
 * a virtual thread of its own sending a chunk of its seeded sequence and checking the echo every {@code every}; a
 * stream that ends or brings a byte back changed stops and is counted cut.
 */
final class LongLivedStreams implements AutoCloseable {

    private final List<StreamingClient> streams;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicInteger cut = new AtomicInteger();
    private final AtomicReference<Exception> firstCut = new AtomicReference<>();
    private volatile boolean stopped;

    private LongLivedStreams(List<StreamingClient> streams, Duration every) {
        this.streams = streams;
        for (StreamingClient stream : streams) {
            threads.add(Thread.ofVirtual().start(() -> {
                try {
                    while (!stopped) {
                        stream.exchange();
                        Thread.sleep(every);
                    }
                } catch (Exception e) {
                    cut.incrementAndGet();
                    firstCut.compareAndSet(null, e);
                }
            }));
        }
    }

    /** Connects {@code count} streams from the pod whose thread is {@code inPod} and starts them. */
    static LongLivedStreams start(ExecutorService inPod, InetSocketAddress echo, int count, int chunk, Duration every)
            throws Exception {
        List<StreamingClient> streams = new ArrayList<>();
        try {
            for (int i = 0; i < count; i++) {
                streams.add(StreamingClient.connect(inPod, echo, i, chunk));
            }
        } catch (Exception e) {
            for (StreamingClient s : streams) {
                s.close();
            }
            throw e;
        }
        return new LongLivedStreams(streams, every);
    }

    /** Bytes each stream has exchanged intact so far. */
    long[] exchanged() {
        return streams.stream().mapToLong(StreamingClient::exchanged).toArray();
    }

    /** How many streams have exchanged more bytes than in {@code before} (an {@link #exchanged()} of earlier). */
    int advancedSince(long[] before) {
        int advanced = 0;
        for (int i = 0; i < streams.size(); i++) {
            if (streams.get(i).exchanged() > before[i]) {
                advanced++;
            }
        }
        return advanced;
    }

    int size() {
        return streams.size();
    }

    /** Streams that ended or brought a byte back changed. */
    int cut() {
        return cut.get();
    }

    /** The first stream's failure, or null. */
    Exception firstCut() {
        return firstCut.get();
    }

    /** Stops the streams (each after its exchange under way) and closes their connections. */
    @Override
    public void close() throws Exception {
        stopped = true;
        for (Thread t : threads) {
            t.join(10_000);
        }
        for (StreamingClient s : streams) {
            s.close();
        }
    }
}
