package io.nodemesh.proxy;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A test server inside a pod's namespace. Each connection starts with a 4-byte id; the server
 * checks that the rest of what it reads is stream {@code id} of {@code requestBytes} and answers
 * with stream {@code id + REPLY_SEED} of {@code replyBytes}, either while reading (both ways at
 * once) or only after the client's FIN (to prove half-close). Connections are served on virtual
 * threads: the sockets already live in the namespace, whatever thread uses them.
 */
final class SeededServer implements AutoCloseable {

    static final long REPLY_SEED = 1_000_000L;

    private final ServerSocketChannel listener;
    private final long requestBytes;
    private final long replyBytes;
    private final boolean replyAfterEof;
    private final Map<Integer, String> verdicts = new ConcurrentHashMap<>();
    private final AtomicInteger accepted = new AtomicInteger();
    private final Thread acceptor;

    private SeededServer(ServerSocketChannel listener, long requestBytes, long replyBytes, boolean replyAfterEof) {
        this.listener = listener;
        this.requestBytes = requestBytes;
        this.replyBytes = replyBytes;
        this.replyAfterEof = replyAfterEof;
        this.acceptor = Thread.ofVirtual().name("seeded-server").start(this::acceptLoop);
    }

    /** Listens on {@code 0.0.0.0:port} (and {@code [::]} if the pod has IPv6) inside {@code pod}. */
    static SeededServer start(Netns pod, int port, long requestBytes, long replyBytes, boolean replyAfterEof)
            throws Exception {
        ServerSocketChannel ssc = pod.call(() -> {
            ServerSocketChannel s = ServerSocketChannel.open();
            s.bind(new InetSocketAddress(port), 512);
            return s;
        });
        return new SeededServer(ssc, requestBytes, replyBytes, replyAfterEof);
    }

    private void acceptLoop() {
        while (listener.isOpen()) {
            try {
                SocketChannel ch = listener.accept();
                accepted.incrementAndGet();
                Thread.ofVirtual().start(() -> serve(ch));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(SocketChannel ch) {
        int id = -1;
        try (ch) {
            SocketAddress peer = ch.getRemoteAddress();
            id = SeededData.readInt(ch);
            final int seed = id;
            CompletableFuture<String> replied = new CompletableFuture<>();
            if (!replyAfterEof) {
                Thread.ofVirtual().start(() -> replied.complete(reply(ch, seed)));
            }
            long[] got = SeededData.readAll(ch);
            long wantCrc = SeededData.crc(id, requestBytes);
            String verdict = got[0] == requestBytes && got[1] == wantCrc ? "ok"
                    : "bad request from " + peer + ": " + got[0] + " bytes crc " + got[1]
                    + ", expected " + requestBytes + " crc " + wantCrc;
            if (replyAfterEof) {
                replied.complete(reply(ch, seed));
            }
            String replyError = replied.get();
            verdicts.put(id, replyError != null ? replyError : verdict);
        } catch (Exception e) {
            verdicts.put(id, "server failed: " + e);
        }
    }

    /** Sends the reply and FIN; returns null, or what went wrong. */
    private String reply(SocketChannel ch, int id) {
        try {
            SeededData.write(ch, id + REPLY_SEED, replyBytes);
            ch.shutdownOutput();
            return null;
        } catch (IOException e) {
            return "reply failed: " + e;
        }
    }

    /** Per connection id: "ok" or what was wrong, once {@code count} connections have been judged. */
    Map<Integer, String> verdicts(int count) throws InterruptedException {
        // The server judges after sending its reply, so a client can be done a moment earlier.
        MeshExtension.await(count + " server verdicts", () -> verdicts.size() >= count);
        return verdicts;
    }

    int accepted() {
        return accepted.get();
    }

    @Override
    public void close() throws Exception {
        listener.close();
        acceptor.join();
    }
}
