package io.nodemesh.rules;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Where a connection lands, for the traffic tests: listeners that answer each connection with their name and close
 * it, and {@link #greeting} reading that answer. Closing closes every listener opened or added here.
 */
final class Greeters implements AutoCloseable {

    private final List<AutoCloseable> listeners = new ArrayList<>();

    /** A plain listener in {@code ns} on every address that sends {@code name} to each connection and closes it. */
    void listen(Netns ns, int port, String name) throws Exception {
        ServerSocket server = ns.call(() -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(port));
            return s;
        });
        listeners.add(server);
        Thread.ofVirtual().start(() -> {
            while (!server.isClosed()) {
                try (Socket accepted = server.accept(); OutputStream out = accepted.getOutputStream()) {
                    out.write(name.getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // closed at the end of the test
                }
            }
        });
    }

    /** Another listener to close with these. */
    void add(AutoCloseable listener) {
        listeners.add(listener);
    }

    /** What the listener a connection from {@code from} to {@code address}:{@code port} reaches answers (5 s limits). */
    static String greeting(Netns from, InetAddress address, int port) throws Exception {
        return from.call(() -> {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(address, port), 5000);
                socket.setSoTimeout(5000);
                return new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new IOException("from " + from + " to " + address.getHostAddress() + " port " + port + ": " + e, e);
            }
        });
    }

    @Override
    public void close() throws Exception {
        for (AutoCloseable listener : listeners) {
            listener.close();
        }
    }
}
