package io.nodemesh.discovery.kubernetes;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/** What the tests share to reach an API over plain HTTP on loopback, and to answer as one from a small server. */
final class PlainApi {

    private PlainApi() {
    }

    /** The client's configuration for {@code http://127.0.0.1:port}, with {@code token} (null: none). */
    static ApiConfig config(int port, Supplier<String> token) {
        return new ApiConfig(URI.create("http://127.0.0.1:" + port), null, token);
    }

    /** Answers {@code exchange} with {@code status} and the JSON {@code body}. */
    static void send(HttpExchange exchange, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(bytes);
        }
    }
}
