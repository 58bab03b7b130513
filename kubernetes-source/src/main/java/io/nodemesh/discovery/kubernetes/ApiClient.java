package io.nodemesh.discovery.kubernetes;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * The few calls the source makes to the Kubernetes API, on the JDK's HTTP client: a list (every page of it) and a
 * watch over a WebSocket, each event a JSON text message (what the API server and its test mock both serve). Objects
 * come back as Jackson trees; {@link ApiObjects} keeps what the mesh reads of them. The client's threads are virtual,
 * apart from the JDK clients' own selectors.
 */
final class ApiClient implements AutoCloseable {

    /** Objects per page of a list: a node's cache fills in a few requests without one huge response. */
    static final int PAGE = 500;

    /** At most this long to connect, and to open a watch. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);

    private final ApiConfig config;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    /** Lists, on connections kept for the next list. */
    private final HttpClient http;
    /** Watches: a client of their own, so that opening one never meets a connection kept for the lists. */
    private final HttpClient watches;
    private final ObjectMapper json = new ObjectMapper();

    ApiClient(ApiConfig config) {
        this.config = config;
        this.http = client(config);
        this.watches = client(config);
    }

    private HttpClient client(ApiConfig config) {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(config.tls())
                .connectTimeout(CONNECT_TIMEOUT).executor(executor).build();
    }

    /** The API's base address. */
    URI server() {
        return config.server();
    }

    /**
     * Lists {@code path} (e.g. {@code /api/v1/pods}) with {@code query} (encoded, may be empty), page by page, handing
     * each object to {@code each} as it is read: one object's tree at a time, however large the list. Returns the
     * list's resource version, to watch from.
     *
     * @throws ApiException on an answer other than 200, or a body that is not a list
     */
    String list(String path, String query, Consumer<JsonNode> each) throws IOException, InterruptedException {
        String next = null;
        String version;
        do {
            String q = join(query, "limit=" + PAGE, next == null ? "" : "continue=" + encode(next));
            HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(config.server() + path + "?" + q))
                    .timeout(REQUEST_TIMEOUT).header("Accept", "application/json").GET();
            authorize(request);
            HttpResponse<InputStream> response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
            try (InputStream body = response.body()) {
                if (response.statusCode() != 200) {
                    throw ApiException.of("GET " + path, response.statusCode(), parseQuietly(body.readAllBytes()));
                }
                Page page = page(path, body, each);
                version = page.resourceVersion();
                next = page.next();
            }
        } while (next != null);
        return version;
    }

    private record Page(String resourceVersion, String next) {
    }

    /** Reads one page of a list: its items one by one, and its metadata (before or after them). */
    private Page page(String path, InputStream body, Consumer<JsonNode> each) throws IOException {
        String version = "";
        String next = null;
        try (JsonParser p = json.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new ApiException("GET " + path + ": the answer is not a list", 0);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if ("items".equals(field) && value == JsonToken.START_ARRAY) {
                    while (p.nextToken() == JsonToken.START_OBJECT) {
                        each.accept(json.readTree(p));
                    }
                } else if ("metadata".equals(field) && value == JsonToken.START_OBJECT) {
                    JsonNode meta = json.readTree(p);
                    version = meta.path("resourceVersion").asText("");
                    String token = meta.path("continue").asText("");
                    next = token.isEmpty() ? null : token;
                } else {
                    p.skipChildren();
                }
            }
        }
        return new Page(version, next);
    }

    /**
     * Opens a watch of {@code path} from {@code resourceVersion} with bookmarks; the server ends it after
     * {@code timeout}; the opening fails unless the server has answered it within {@code openWithin}. The listener
     * gets one text message per event (possibly in parts).
     */
    CompletableFuture<WebSocket> watch(String path, String query, String resourceVersion, Duration timeout,
            Duration openWithin, WebSocket.Listener listener) {
        // resourceVersion before watch=true: the tests' API mock recognises a resumed watch by that order.
        String q = join(query, "resourceVersion=" + encode(resourceVersion), "allowWatchBookmarks=true",
                "timeoutSeconds=" + timeout.toSeconds(), "watch=true");
        URI server = config.server();
        URI uri = URI.create(("https".equals(server.getScheme()) ? "wss" : "ws")
                + server.toString().substring(server.getScheme().length()) + path + "?" + q);
        WebSocket.Builder ws = watches.newWebSocketBuilder().connectTimeout(openWithin);
        String authorization = authorization();
        if (authorization != null) {
            ws.header("Authorization", authorization);
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
        String authorization = authorization();
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
    }

    /** The {@code Authorization} header's value for the token in force now, or null without one. */
    private String authorization() {
        String token = config.token() == null ? null : config.token().get();
        return token == null ? null : "Bearer " + token;
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
        watches.shutdownNow();
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
