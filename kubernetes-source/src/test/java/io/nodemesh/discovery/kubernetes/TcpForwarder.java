package io.nodemesh.discovery.kubernetes;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP forwarder on loopback in front of the API mock, so that a test can cut every open connection (the watches
 * with them) the way a restarting API server or a broken network does, or silence them without closing them, while
 * new connections still get through.
 */
final class TcpForwarder implements AutoCloseable {

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final Set<Socket> stalled = ConcurrentHashMap.newKeySet();

    private TcpForwarder(InetSocketAddress target) throws IOException {
        this.target = target;
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread.ofVirtual().name("forwarder-accept").start(this::accept);
    }

    static TcpForwarder to(InetSocketAddress target) throws IOException {
        return new TcpForwarder(target);
    }

    int port() {
        return listener.getLocalPort();
    }

    /** Closes every connection open now, as an API server going down closes its own; the listener stays. */
    int cut() throws IOException {
        int n = open.size() / 2;
        for (Socket s : open) {
            s.close();
        }
        open.clear();
        return n;
    }

    /**
     * From now on drops what the connections open now carry, both ways, without closing them: a connection through a
     * network that went dark (a peer gone without a reset, a middlebox that lost its state). New connections work.
     */
    int stall() {
        stalled.addAll(open);
        return open.size() / 2;
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket upstream = new Socket(target.getAddress(), target.getPort());
                open.add(client);
                open.add(upstream);
                Thread.ofVirtual().start(() -> copy(client, upstream));
                Thread.ofVirtual().start(() -> copy(upstream, client));
            } catch (IOException e) {
                // closed, or the mock refused: the client sees its connection fail
            }
        }
    }

    private void copy(Socket from, Socket to) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            byte[] buffer = new byte[8192];
            for (int n; (n = in.read(buffer)) >= 0; ) {
                if (!stalled.contains(from)) {
                    out.write(buffer, 0, n);
                }
            }
        } catch (IOException e) {
            // cut or closed
        } finally {
            try {
                from.close();
                to.close();
            } catch (IOException ignored) {
                // already closed
            }
            open.remove(from);
            open.remove(to);
            stalled.remove(from);
            stalled.remove(to);
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        cut();
    }
}
