package io.nodemesh.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.URI;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * The one HTTP GET of the debugging commands, written on a plain socket (TCP, or the proxy's Unix socket): HTTP/1.1 with {@code Connection: close}, the
 * body delimited by {@code Content-Length}, chunks or the end of the stream. Neither {@code java.net.http.HttpClient}
 * (it sets up TLS even for {@code http://}: about 200 classes and the default trust store) nor
 * {@link java.net.HttpURLConnection} (proxy selection, cookie and cache handlers, keep-alive cache): each took more of
 * a command's run than the command itself (jmh-bench/RESULTS.md, cli-startup).
 */
final class HttpGet {

    /** What the server answered: the status code and the body as text. */
    record Response(int status, String body) {
    }

    private static final int CONNECT_TIMEOUT_MILLIS = 3_000;
    private static final int READ_TIMEOUT_MILLIS = 5_000;

    private HttpGet() {
    }

    /**
     * GETs {@code uri} ({@code http://HOST:PORT/PATH?QUERY}) directly, never through a proxy.
     *
     * @throws java.net.ConnectException when nothing listens there
     * @throws IOException when the exchange fails otherwise, or the answer is not HTTP
     */
    static Response get(URI uri) throws IOException {
        String host = uri.getHost();
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        byte[] answer;
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(host, uri.getPort()), CONNECT_TIMEOUT_MILLIS);
            socket.setSoTimeout(READ_TIMEOUT_MILLIS);
            OutputStream out = socket.getOutputStream();
            out.write(("GET " + uri.getRawPath() + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery())
                    + " HTTP/1.1\r\nHost: " + uri.getRawAuthority() + "\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            answer = socket.getInputStream().readAllBytes();
        }
        return parse(answer);
    }

    /**
     * GETs {@code target} ({@code /PATH?QUERY}) from the server on the Unix socket {@code socket}, with the same time
     * limits as over TCP (a blocking channel has no read timeout, so the answer is read through a selector).
     *
     * @throws IOException when the socket cannot be reached (java.net.ConnectException: nobody listens there), the
     *     exchange fails, or the answer is not HTTP
     */
    static Response get(Path socket, String target) throws IOException {
        ByteArrayOutputStream answer = new ByteArrayOutputStream();
        try (SocketChannel channel = SocketChannel.open(StandardProtocolFamily.UNIX);
             Selector selector = Selector.open()) {
            channel.connect(UnixDomainSocketAddress.of(socket)); // local: succeeds or fails at once
            channel.write(ByteBuffer.wrap(("GET " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            channel.configureBlocking(false);
            channel.register(selector, SelectionKey.OP_READ);
            ByteBuffer buffer = ByteBuffer.allocate(16 * 1024);
            long deadline = System.nanoTime() + READ_TIMEOUT_MILLIS * 1_000_000L;
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000L;
                if (left <= 0 || selector.select(left) == 0 && System.nanoTime() >= deadline) {
                    throw new SocketTimeoutException("no complete answer from " + socket + " in " + READ_TIMEOUT_MILLIS
                            + " ms");
                }
                selector.selectedKeys().clear();
                int n = channel.read(buffer.clear());
                if (n < 0) {
                    break;
                }
                answer.write(buffer.array(), 0, n);
            }
        }
        return parse(answer.toByteArray());
    }

    /** Splits a whole HTTP/1.x response into its status and its (de-chunked) body. */
    static Response parse(byte[] answer) throws IOException {
        int headEnd = indexOf(answer, "\r\n\r\n".getBytes(StandardCharsets.US_ASCII), 0);
        if (headEnd < 0) {
            throw new IOException("not an HTTP response (no end of headers in " + answer.length + " bytes)");
        }
        String[] head = new String(answer, 0, headEnd, StandardCharsets.ISO_8859_1).split("\r\n");
        String[] statusLine = head[0].split(" ", 3);
        if (statusLine.length < 2 || !statusLine[0].startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP response: " + head[0]);
        }
        int status;
        try {
            status = Integer.parseInt(statusLine[1]);
        } catch (NumberFormatException e) {
            throw new IOException("not an HTTP status: " + head[0], e);
        }
        boolean chunked = false;
        int length = -1;
        for (int i = 1; i < head.length; i++) {
            int colon = head[i].indexOf(':');
            String name = colon < 0 ? head[i] : head[i].substring(0, colon).strip().toLowerCase(Locale.ROOT);
            String value = colon < 0 ? "" : head[i].substring(colon + 1).strip();
            if (name.equals("transfer-encoding")) {
                chunked = value.toLowerCase(Locale.ROOT).contains("chunked");
            } else if (name.equals("content-length")) {
                length = number(value, 10, head[i]);
            }
        }
        int bodyStart = headEnd + 4;
        byte[] body;
        if (chunked) {
            body = dechunk(answer, bodyStart);
        } else {
            int end = length < 0 ? answer.length : bodyStart + length;
            if (end > answer.length) {
                throw new IOException("the answer ended after " + (answer.length - bodyStart) + " of its " + length + " bytes");
            }
            body = Arrays.copyOfRange(answer, bodyStart, end);
        }
        return new Response(status, new String(body, StandardCharsets.UTF_8));
    }

    private static byte[] dechunk(byte[] answer, int from) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        byte[] crlf = "\r\n".getBytes(StandardCharsets.US_ASCII);
        int at = from;
        while (true) {
            int lineEnd = indexOf(answer, crlf, at);
            if (lineEnd < 0) {
                throw new IOException("a chunked answer ended inside a chunk header");
            }
            String sizeText = new String(answer, at, lineEnd - at, StandardCharsets.US_ASCII);
            int semicolon = sizeText.indexOf(';');
            int size = number((semicolon < 0 ? sizeText : sizeText.substring(0, semicolon)).strip(), 16, sizeText);
            if (size == 0) {
                return body.toByteArray();
            }
            if (lineEnd + 2 + size > answer.length) {
                throw new IOException("a chunked answer ended inside a chunk");
            }
            body.write(answer, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }

    private static int number(String text, int radix, String where) throws IOException {
        try {
            int n = Integer.parseInt(text, radix);
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IOException("not a length in an HTTP answer: " + where);
    }

    private static int indexOf(byte[] data, byte[] pattern, int from) {
        outer:
        for (int i = from; i <= data.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
