package io.nodemesh.discovery.kubernetes;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP forwarder on loopback in front of the API mock, so that a test can cut every open connection (the watches
 * with them) the way a restarting API server or a broken network does, while new connections still get through.
 */
final class TcpForwarder implements AutoCloseable {

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final List<Socket> open = new CopyOnWriteArrayList<>();

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
            in.transferTo(out);
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
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        cut();
    }
}
