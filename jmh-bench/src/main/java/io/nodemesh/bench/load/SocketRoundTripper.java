package io.nodemesh.bench.load;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;

/**
 * A blocking-socket {@link RoundTripper} speaking {@link LoadProtocol}: TCP_NODELAY, a connect
 * timeout and a read timeout, so no exchange can hang a run.
 */
final class SocketRoundTripper implements RoundTripper {

    private final InetSocketAddress target;
    private final byte[] request;
    private final int responseSize;
    private final int timeoutMillis;
    private final byte[] readBuffer;
    private volatile Socket socket;
    private InputStream in;
    private OutputStream out;

    SocketRoundTripper(InetSocketAddress target, byte[] request, int responseSize, int timeoutMillis) {
        this.target = target;
        this.request = request;
        this.responseSize = responseSize;
        this.timeoutMillis = timeoutMillis;
        this.readBuffer = new byte[Math.min(responseSize, 64 * 1024)];
    }

    /** Opens the connection now (so the first exchange does not pay for it). */
    void connect() throws IOException {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.setSoTimeout(timeoutMillis);
            s.connect(target, timeoutMillis);
            in = s.getInputStream();
            out = s.getOutputStream();
        } catch (IOException e) {
            s.close();
            throw e;
        }
        socket = s;
    }

    @Override
    public void roundTrip() throws IOException {
        if (socket == null) {
            connect();
        }
        out.write(request);
        readFully(in, readBuffer, responseSize);
    }

    /** After a close-after-response request: waits for the server's FIN, so the client closes second. */
    void awaitServerClose() throws IOException {
        if (in.read(readBuffer) != -1) {
            throw new IOException("server sent bytes after the response instead of closing");
        }
    }

    /** Closes with RST instead of FIN (SO_LINGER 0): no TIME_WAIT anywhere, but the peer sees a reset. */
    void abort() {
        Socket s = socket;
        if (s != null) {
            try {
                s.setSoLinger(true, 0);
            } catch (IOException ignored) {
                // the socket is already gone; disconnect() below finishes the job
            }
        }
        disconnect();
    }

    @Override
    public void disconnect() {
        Socket s = socket;
        socket = null;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // closing a broken socket: nothing left to do
            }
        }
    }

    /** Reads exactly {@code total} bytes (reusing {@code buffer}), or throws {@link EOFException}. */
    static void readFully(InputStream in, byte[] buffer, int total) throws IOException {
        int remaining = total;
        while (remaining > 0) {
            int n = in.read(buffer, 0, Math.min(buffer.length, remaining));
            if (n < 0) {
                throw new EOFException("connection closed with " + remaining + " of " + total + " response bytes unread");
            }
            remaining -= n;
        }
    }
}
