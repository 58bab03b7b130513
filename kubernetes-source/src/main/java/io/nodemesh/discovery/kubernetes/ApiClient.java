package io.nodemesh.discovery.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The few calls the source makes to the Kubernetes API, on the JDK's HTTP client: a list (every page of it) and a watch
 * over a WebSocket, each event a JSON text message (what the API server and its test mock both serve). Objects come back
 * as Jackson trees; {@link ApiObjects} keeps what the mesh reads of them. The client's threads are virtual, apart from
 * the JDK client's own selector.
 */
final class ApiClient implements AutoCloseable {

    /** Objects per page of a list: a node's cache fills in a few requests without one huge response. */
    static final int PAGE = 500;

    private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);

    private final ApiConfig config;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    private final HttpClient http;
    private final ObjectMapper json = new ObjectMapper();

    ApiClient(ApiConfig config) {
        this.config = config;
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(config.tls())
                .connectTimeout(CONNECT_TIMEOUT).executor(executor).build();
    }

    /** The API's base address. */
    URI server() {
        return config.server();
    }

    /** Every object of a list, and the list's resource version to watch from. */
    record Listed(List<JsonNode> items, String resourceVersion) {
    }

    /**
     * Lists {@code path} (e.g. {@code /api/v1/pods}) with {@code query} (encoded, may be empty), page by page.
     *
     * @throws ApiException on an answer other than 200, or a body that is not a list
     */
    Listed list(String path, String query) throws IOException, InterruptedException {
        List<JsonNode> items = new ArrayList<>();
        String next = null;
        String version;
        do {
            String q = join(query, "limit=" + PAGE, next == null ? "" : "continue=" + encode(next));
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(config.server() + path + "?" + q))
                    .timeout(REQUEST_TIMEOUT).header("Accept", "application/json").GET();
            authorize(request);
            HttpResponse<byte[]> response = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
            if (response.statusCode() != 200) {
                throw ApiException.of("GET " + path, response.statusCode(), parseQuietly(response.body()));
            }
            JsonNode list = json.readTree(response.body());
            if (list == null || !list.isObject()) {
                throw new ApiException("GET " + path + ": the answer is not a list", 0);
            }
            list.path("items").forEach(items::add);
            version = list.path("metadata").path("resourceVersion").asText("");
            next = list.path("metadata").path("continue").asText("");
            next = next.isEmpty() ? null : next;
        } while (next != null);
        return new Listed(items, version);
    }

    /**
     * Opens a watch of {@code path} from {@code resourceVersion} with bookmarks; the server ends it after
     * {@code timeout}. The listener gets one text message per event (possibly in parts).
     */
    CompletableFuture<WebSocket> watch(String path, String query, String resourceVersion, Duration timeout,
            WebSocket.Listener listener) {
        // resourceVersion before watch=true: the tests' API mock recognises a resumed watch by that order.
        String q = join(query, "resourceVersion=" + encode(resourceVersion), "allowWatchBookmarks=true",
                "timeoutSeconds=" + timeout.toSeconds(), "watch=true");
        URI server = config.server();
        URI uri = URI.create(("https".equals(server.getScheme()) ? "wss" : "ws")
                + server.toString().substring(server.getScheme().length()) + path + "?" + q);
        WebSocket.Builder ws = http.newWebSocketBuilder().connectTimeout(CONNECT_TIMEOUT);
        String token = config.token() == null ? null : config.token().get();
        if (token != null) {
            ws.header("Authorization", "Bearer " + token);
        }
        return ws.buildAsync(uri, listener);
    }

    /** A JSON text as a tree. */
    JsonNode parse(String text) throws IOException {
        return json.readTree(text);
    }

    private JsonNode parseQuietly(byte[] body) {
        try {
            return json.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    private void authorize(HttpRequest.Builder request) {
        String token = config.token() == null ? null : config.token().get();
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
    }

    static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    private static String join(String... parts) {
        StringBuilder out = new StringBuilder();
        for (String p : parts) {
            if (!p.isEmpty()) {
                out.append(out.isEmpty() ? "" : "&").append(p);
            }
        }
        return out.toString();
    }

    @Override
    public void close() {
        http.shutdownNow();
        executor.shutdownNow();
    }

    /** An answer of the API other than success: its status code and what it said. */
    static final class ApiException extends IOException {
        private final int status;

        ApiException(String message, int status) {
            super(message);
            this.status = status;
        }

        /** From an HTTP status and the body, a {@code Status} object when the API sent one. */
        static ApiException of(String what, int status, JsonNode body) {
            String message = body == null ? "" : body.path("message").asText("");
            return new ApiException(what + ": HTTP " + status + (message.isEmpty() ? "" : ": " + message), status);
        }

        /** The HTTP status, or the {@code code} of an ERROR event ({@code 410}: the version asked for is gone). */
        int status() {
            return status;
        }
    }
}
