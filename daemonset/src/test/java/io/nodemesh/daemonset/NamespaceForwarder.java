package io.nodemesh.daemonset;

import io.nodemesh.topology.Netns;
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
 * A TCP listener on loopback inside a test's network namespace that forwards each connection to a port on this
 * machine's loopback: how a process in the pod's namespace reaches the API mock, which listens in the test JVM's
 * namespace. No route and no interface is added anywhere: both ends are loopback.
 */
final class NamespaceForwarder implements AutoCloseable {

    private final ServerSocket listener;
    private final InetSocketAddress target;
    private final List<Socket> open = new CopyOnWriteArrayList<>();
    private final Thread acceptor;

    private NamespaceForwarder(ServerSocket listener, InetSocketAddress target) {
        this.listener = listener;
        this.target = target;
        // Started from the caller's thread, not the namespace's: a thread inherits its creator's namespace, and the
        // upstream sockets must be made in the test JVM's own.
        this.acceptor = Thread.ofPlatform().name("forwarder-accept").daemon(true).start(this::accept);
    }

    /** Listens on an ephemeral port of {@code netns}'s loopback and forwards to {@code target}. */
    static NamespaceForwarder in(Netns netns, InetSocketAddress target) throws Exception {
        ServerSocket listener = netns.call(() -> new ServerSocket(0, 50, InetAddress.getLoopbackAddress()));
        return new NamespaceForwarder(listener, target);
    }

    /** The port inside the namespace. */
    int port() {
        return listener.getLocalPort();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket upstream = new Socket(target.getAddress(), target.getPort());
                open.add(client);
                open.add(upstream);
                Thread.ofPlatform().daemon(true).start(() -> copy(client, upstream));
                Thread.ofPlatform().daemon(true).start(() -> copy(upstream, client));
            } catch (IOException e) {
                // closed, or the mock refused: the client sees its connection fail
            }
        }
    }

    private void copy(Socket from, Socket to) {
        try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
            in.transferTo(out);
        } catch (IOException e) {
            // closed by the other side or by close()
        } finally {
            closeQuietly(from);
            closeQuietly(to);
            open.remove(from);
            open.remove(to);
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public void close() throws IOException, InterruptedException {
        listener.close();
        open.forEach(NamespaceForwarder::closeQuietly);
        acceptor.join(5_000);
    }
}
