package io.nodemesh.proxy;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.zip.CRC32;

/**
 * A long-lived connection to an {@link EchoServer} that streams a seeded byte sequence and checks that every byte
 * comes back as sent: a running CRC32 of what was sent and of what came back, compared after every exchange.
 */
final class StreamingClient implements AutoCloseable {

    private final SocketChannel channel;
    private final SplittableRandom data;
    private final CRC32 sent = new CRC32();
    private final CRC32 received = new CRC32();
    private final ByteBuffer out;
    private final ByteBuffer in;
    private volatile long exchanged;

    private StreamingClient(SocketChannel channel, long seed, int chunk) {
        this.channel = channel;
        this.data = new SplittableRandom(seed);
        this.out = ByteBuffer.allocate(chunk);
        this.in = ByteBuffer.allocate(chunk);
    }

    /** Connects from {@code pod} (its socket made on {@code inPod}, a thread in the pod's namespace) to {@code echo}. */
    static StreamingClient connect(ExecutorService inPod, InetSocketAddress echo, long seed, int chunk)
            throws Exception {
        SocketChannel ch = inPod.submit((java.util.concurrent.Callable<SocketChannel>) SocketChannel::open).get();
        try {
            ch.connect(echo);
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        return new StreamingClient(ch, seed, chunk);
    }

    /** Sends the next chunk and reads it back; throws when the connection ended or a byte came back changed. */
    void exchange() throws IOException {
        byte[] chunk = out.array();
        for (int i = 0; i < chunk.length; i++) {
            chunk[i] = (byte) data.nextInt(256);
        }
        sent.update(chunk);
        out.clear();
        while (out.hasRemaining()) {
            channel.write(out);
        }
        in.clear();
        while (in.hasRemaining()) {
            if (channel.read(in) < 0) {
                throw new IOException("the connection ended after " + exchanged + " bytes");
            }
        }
        received.update(in.array());
        if (received.getValue() != sent.getValue()) {
            throw new IOException("bytes came back changed after " + exchanged + " intact bytes");
        }
        exchanged += chunk.length;
    }

    /** Bytes sent and received back intact so far. */
    long exchanged() {
        return exchanged;
    }

    SocketChannel channel() {
        return channel;
    }

    /** A connection of {@code pod} made on the pod's own thread, for tests that need only one. */
    static StreamingClient connect(Netns pod, InetSocketAddress echo, long seed) throws Exception {
        SocketChannel ch = pod.call(SocketChannel::open);
        ch.connect(echo);
        return new StreamingClient(ch, seed, 1024);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
