package io.nodemesh.bench.harness;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * One HTTP/1.0 GET over a plain socket, for the benchmarks' reads of the proxy's admin API and the agent's
 * {@code /metrics}: no client library, so it also works from a thread inside a pod's network namespace.
 */
public final class PlainHttp {

    private PlainHttp() {
    }

    /** The whole answer to {@code GET path} from {@code target}, status line and headers included. */
    public static String get(InetSocketAddress target, String path) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(target, 500);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.0\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
