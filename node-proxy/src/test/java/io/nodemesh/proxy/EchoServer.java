package io.nodemesh.proxy;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.concurrent.atomic.AtomicInteger;

/** Echoes every byte back, inside a pod's namespace; for long-lived connections in tests. */
final class EchoServer implements AutoCloseable {

    private final ServerSocketChannel listener;
    private final AtomicInteger accepted = new AtomicInteger();
    private final Thread acceptor;

    private EchoServer(ServerSocketChannel listener) {
        this.listener = listener;
        this.acceptor = Thread.ofVirtual().start(this::acceptLoop);
    }

    static EchoServer start(Netns pod, int port) throws Exception {
        return start(pod, port, 0);
    }

    /** With an accept queue of {@code backlog} (0: the JDK's default, 50), for a burst of new connections. */
    static EchoServer start(Netns pod, int port, int backlog) throws Exception {
        return new EchoServer(pod.call(() -> ServerSocketChannel.open().bind(new InetSocketAddress(port), backlog)));
    }

    private void acceptLoop() {
        while (listener.isOpen()) {
            try {
                SocketChannel ch = listener.accept();
                accepted.incrementAndGet();
                Thread.ofVirtual().start(() -> echo(ch));
            } catch (IOException e) {
                return;
            }
        }
    }

    private static void echo(SocketChannel ch) {
        try (ch) {
            ByteBuffer buf = ByteBuffer.allocate(8192);
            while (ch.read(buf) >= 0) {
                buf.flip();
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
                buf.clear();
            }
        } catch (IOException e) {
            // the client went away
        }
    }

    int accepted() {
        return accepted.get();
    }

    /** Opens a connection from inside {@code pod} to {@code dst}. */
    static SocketChannel connect(Netns pod, InetSocketAddress dst) throws Exception {
        SocketChannel ch = pod.call(SocketChannel::open);
        ch.connect(dst);
        return ch;
    }

    /** Sends {@code text} and reads it back; returns what came back (empty if the connection ended). */
    static String roundTrip(SocketChannel ch, String text) throws IOException {
        ByteBuffer out = ByteBuffer.wrap(text.getBytes());
        while (out.hasRemaining()) {
            ch.write(out);
        }
        ByteBuffer in = ByteBuffer.allocate(text.length());
        while (in.hasRemaining()) {
            if (ch.read(in) < 0) {
                break;
            }
        }
        return new String(in.array(), 0, in.position());
    }

    @Override
    public void close() throws Exception {
        listener.close();
        acceptor.join();
    }
}
