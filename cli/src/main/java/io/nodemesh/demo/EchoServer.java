package io.nodemesh.demo;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;

/** The demo's "application" in the backend pod: echoes every byte back, closes after the client's half-close. */
final class EchoServer implements AutoCloseable {

    private final ServerSocket listener;
    private final Thread acceptor;

    private EchoServer(ServerSocket listener) {
        this.listener = listener;
        this.acceptor = Thread.ofPlatform().name("demo-echo-accept").daemon(true).start(this::acceptLoop);
    }

    /** Listens on every address of {@code pod} at {@code port} (the socket lives in the pod's netns). */
    static EchoServer start(Netns pod, int port) throws Exception {
        ServerSocket listener = pod.call(() -> {
            ServerSocket s = new ServerSocket();
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(port), 256);
            return s;
        });
        return new EchoServer(listener);
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket s = listener.accept();
                Thread.ofVirtual().name("demo-echo").start(() -> echo(s));
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private static void echo(Socket s) {
        try (s) {
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            byte[] buf = new byte[16 * 1024];
            for (int n; (n = in.read(buf)) >= 0; ) {
                out.write(buf, 0, n);
            }
            s.shutdownOutput();
        } catch (IOException ignored) {
            // the client went away; nothing to echo to
        }
    }

    @Override
    public void close() {
        try {
            listener.close();
            acceptor.join(2000);
        } catch (IOException | InterruptedException ignored) {
            // closing anyway
        }
    }
}
