package io.nodemesh.discovery.kubernetes;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.ByteString;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import io.fabric8.mockwebserver.http.Response;
import io.fabric8.mockwebserver.http.WebSocket;
import io.fabric8.mockwebserver.http.WebSocketListener;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * fabric8's API mock in CRUD mode on loopback, over HTTP or HTTPS, with a {@link TcpForwarder} in front for the
 * source's client. Tests write objects through {@link #admin} (straight to the mock) and the source reads through the
 * forwarder, which they can cut or stall; daemonset's tests (this module's test jar) reach the mock itself
 * ({@link #address}) from a pod's network namespace. The mock is not an API server in three ways the tests work around
 * here:
 * <ul>
 *   <li>It cannot select pods by {@code spec.nodeName} (8.0.0 answers such a field selector with no pod at all, list
 *       and watch). That selector is taken out of the requests, so every node's pods are sent, as by an API server
 *       that ignored it: the source must drop other nodes' pods itself, and the tests show that it does.</li>
 *   <li>It keeps no history: a watch resumed from an old resource version misses what happened meanwhile, where an
 *       API server replays it or, when it has compacted it, opens the watch and sends an ERROR event with status 410
 *       (Gone). {@link #expireWatchesBefore} makes the mock do that, and the source lists again.</li>
 *   <li>It allocates no cluster IPs: the tests give them.</li>
 * </ul>
 */
public final class MockApi implements AutoCloseable {

    final KubernetesMockServer server;
    private final MockWebServer web;
    /** Writes straight to the mock. */
    public final KubernetesClient admin;
    final TcpForwarder forwarder;
    private final AsAnApiServer dispatcher = new AsAnApiServer(new KubernetesCrudDispatcher());

    MockApi() throws IOException {
        this(false);
    }

    /** The mock on HTTPS (a self-signed certificate) when {@code https}, as an API server in a cluster is. */
    public MockApi(boolean https) throws IOException {
        web = new MockWebServer();
        server = new KubernetesMockServer(new Context(), web, new HashMap<>(), dispatcher, https);
        server.init(InetAddress.getLoopbackAddress(), 0);
        admin = server.createClient();
        forwarder = TcpForwarder.to(new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getPort()));
    }

    /**
     * A source of node {@code node} reading the mock through the forwarder, retrying a broken watch after 100 ms,
     * pinging its watches every 500 ms and checking them against a direct list every second. The mock keeps no
     * history and now and then leaves a watch's opening unanswered (seen with 8.0.0: a WebSocket handshake that never
     * gets its 101): the watch is opened again a second later from its last version, and what happened meanwhile only a
     * list shows, as on an API server that had compacted it.
     */
    KubernetesSource.Builder source(String node) {
        return sourceTo(node, forwarder.port());
    }

    /** A source of node {@code node} reading whatever listens on loopback {@code port} (as {@link #source}). */
    static KubernetesSource.Builder sourceTo(String node, int port) {
        return KubernetesSource.builder(node).api(PlainApi.config(port, null))
                .reconnect(Duration.ofMillis(100)).ping(Duration.ofMillis(500)).watchCheck(Duration.ofSeconds(1));
    }

    /** A fabric8 client through the forwarder, for the tests' own reading (the caller closes it). */
    KubernetesClient client() {
        Config config = new ConfigBuilder(Config.empty()).withMasterUrl("http://127.0.0.1:" + forwarder.port())
                .withNamespace("default").withRequestRetryBackoffLimit(0).withHttp2Disable(true).build();
        return new KubernetesClientBuilder().withConfig(config).build();
    }

    /** Where the mock itself listens, on this network namespace's loopback (the forwarder is in front of it). */
    public InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getPort());
    }

    /** The HTTPS mock's self-signed certificate (PEM): the cluster CA a pod finds in its service account. */
    public Path certificate() {
        return Path.of(web.getSelfSignedCertificate().certificatePath());
    }

    /**
     * A kubeconfig (written into {@code dir}) for the mock itself as a pod sees its API server: HTTPS (the mock made
     * with {@code https}), its certificate as the cluster's CA, a bearer token. For a proxy run as a process.
     */
    public Path kubeconfig(Path dir) throws IOException {
        return Files.writeString(dir.resolve("kubeconfig"), """
                apiVersion: v1
                kind: Config
                clusters: [{name: mock, cluster: {server: "https://127.0.0.1:%d", certificate-authority: %s}}]
                users: [{name: mock, user: {token: mock-token}}]
                contexts: [{name: mock, context: {cluster: mock, user: mock}}]
                current-context: mock
                """.formatted(server.getPort(), certificate()));
    }

    /** A self-signed certificate (PEM, written into {@code dir}) that signed nothing the mock presents. */
    static Path otherCertificate(Path dir) throws IOException {
        try (MockApi other = new MockApi(true)) {
            return Files.copy(other.certificate(), dir.resolve("other-ca.crt"));
        }
    }

    /** The {@code Authorization} headers the mock has seen. */
    java.util.Set<String> authorizations() {
        return dispatcher.authorizations;
    }

    /** From now on a watch resumed from before the current resource version is answered 410 Gone (once each). */
    void expireWatchesBefore() {
        String rv = admin.namespaces().list().getMetadata().getResourceVersion();
        dispatcher.expiredBefore = Long.parseLong(rv) + 1;
    }

    /** The CRUD dispatcher, with what an API server would do instead where the tests need it (see above). */
    private static final class AsAnApiServer extends Dispatcher {
        private static final Pattern NODE_SELECTOR = Pattern.compile("fieldSelector=spec\\.nodeName%3D[^&]*&?");
        private static final Pattern RESUMED_WATCH = Pattern.compile("[?&]resourceVersion=(\\d+)&.*watch=true");
        private static final String GONE = """
                {"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Expired",\
                "code":410,"message":"too old resource version"}}""";

        private final Dispatcher crud;
        final java.util.Set<String> authorizations = java.util.concurrent.ConcurrentHashMap.newKeySet();
        volatile long expiredBefore;

        AsAnApiServer(Dispatcher crud) {
            this.crud = crud;
        }

        @Override
        public MockResponse dispatch(RecordedRequest request) {
            String authorization = request.getHeader("Authorization");
            if (authorization != null) {
                authorizations.add(authorization);
            }
            String path = request.getPath();
            Matcher watch = RESUMED_WATCH.matcher(path);
            if (watch.find() && Long.parseLong(watch.group(1)) < expiredBefore) {
                return new MockResponse().withWebSocketUpgrade(new WebSocketListener() {
                    @Override
                    public void onOpen(WebSocket ws, Response response) {
                        ws.send(GONE);
                        ws.close(1000, "");
                    }
                });
            }
            String without = NODE_SELECTOR.matcher(path).replaceAll("");
            if (without.endsWith("?") || without.endsWith("&")) {
                without = without.substring(0, without.length() - 1);
            }
            MockResponse response = crud.dispatch(path.equals(without) ? request
                    : new RecordedRequest(request.getHttpVersion(), request.method(), without, request.getHeaders(),
                            request.getBody()));
            WebSocketListener events = response.getWebSocketListener();
            return events == null ? response : response.withWebSocketUpgrade(new EndedOffTheEventLoop(events));
        }

        @Override
        public void shutdown() {
            crud.shutdown();
        }
    }

    /**
     * A watch of the CRUD mock whose end is handled off the mock's event loop. The mock (8.0.0) sends a watch's events
     * from a thread of the watch's own, each send waiting up to 30 s for the write to complete on the event loop; when
     * the watch's connection ends, its end handler, on that event loop, waits for that thread to finish. A watch that
     * ends while an event is being sent to it (a source dropping or cutting it mid-burst) so blocked the event loop,
     * every request to the mock with it, for 30 s ("Thread blocked", "write did not complete within 30s" in the tests'
     * output; two CI runs of 2026-12-07 timed out on it). Handled on a thread of its own, the end lets the loop fail
     * the write at once.
     */
    private static final class EndedOffTheEventLoop extends WebSocketListener {
        private final WebSocketListener watch;

        EndedOffTheEventLoop(WebSocketListener watch) {
            this.watch = watch;
        }

        @Override
        public void onBeforeAccept(WebSocket ws, Response response) {
            watch.onBeforeAccept(ws, response);
        }

        @Override
        public void onOpen(WebSocket ws, Response response) {
            watch.onOpen(ws, response);
        }

        @Override
        public void onMessage(WebSocket ws, String text) {
            watch.onMessage(ws, text);
        }

        @Override
        public void onMessage(WebSocket ws, byte[] bytes) {
            watch.onMessage(ws, bytes);
        }

        @Override
        public void onMessage(WebSocket ws, ByteString bytes) {
            watch.onMessage(ws, bytes);
        }

        @Override
        public void onPing(WebSocket ws, byte[] bytes) {
            watch.onPing(ws, bytes);
        }

        @Override
        public void onClosing(WebSocket ws, int code, String reason) {
            Thread.ofVirtual().name("mock-watch-closing").start(() -> watch.onClosing(ws, code, reason));
        }

        @Override
        public void onClosed(WebSocket ws, int code, String reason) {
            Thread.ofVirtual().name("mock-watch-closed").start(() -> watch.onClosed(ws, code, reason));
        }

        @Override
        public void onFailure(WebSocket ws, Throwable t, Response response) {
            Thread.ofVirtual().name("mock-watch-failed").start(() -> watch.onFailure(ws, t, response));
        }
    }

    @Override
    public void close() throws IOException {
        admin.close();
        forwarder.close();
        try {
            server.destroy();
        } catch (IllegalStateException e) {
            // Vert.x did not stop within the mock's 10 s (seen once at load 10 on 2 cores): its port is released
            // with the JVM; what the test asserted stands.
            System.err.println("API mock: " + e.getMessage());
        }
    }
}
