package io.nodemesh.proxy.tunnel;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** A blocking app on loopback: every accepted socket goes to {@code app} on a virtual thread of its own. */
final class AppServer implements AutoCloseable {

    /** What the app does with one connection. */
    @FunctionalInterface
    interface App {
        void serve(Socket socket) throws IOException, InterruptedException;
    }

    private final ServerSocket listener;
    private final List<Socket> accepted = new CopyOnWriteArrayList<>();
    /** Failures inside the app, for tests that expect none (or expect one). */
    final List<Throwable> failures = new CopyOnWriteArrayList<>();

    private AppServer(App app) throws IOException {
        listener = new ServerSocket(0, 1024, TunnelRig.LOOPBACK);
        Thread.ofVirtual().start(() -> {
            while (!listener.isClosed()) {
                try {
                    Socket s = listener.accept();
                    accepted.add(s);
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            app.serve(s);
                        } catch (IOException | InterruptedException | RuntimeException e) {
                            failures.add(e);
                        }
                    });
                } catch (IOException closed) {
                    return;
                }
            }
        });
    }

    static AppServer start(App app) throws IOException {
        return new AppServer(app);
    }

    /** Echoes until the client's FIN, then sends its own. */
    static AppServer echo() throws IOException {
        return start(s -> {
            copy(s.getInputStream(), s.getOutputStream());
            s.shutdownOutput();
        });
    }

    static long copy(InputStream in, OutputStream out) throws IOException {
        byte[] buf = new byte[64 * 1024];
        long total = 0;
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
            total += n;
        }
        return total;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    @Override
    public void close() throws IOException {
        listener.close();
        for (Socket s : accepted) {
            s.close();
        }
    }
}
