package io.nodemesh.proxy;

import io.nodemesh.proxy.identity.IdentityManager;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/**
 * A node of a {@link MeshExtension} mesh: an in-process {@link NodeProxy} on a standalone file, with what tests need
 * around it (the connections it closed, its admin API, edits of its file). The extension closes it after the test.
 */
public final class TestNode implements AutoCloseable {

    final Path file;
    final NodeProxy proxy;
    /** Every connection the proxy finished, unless the test gave the proxy a sink of its own. */
    final Queue<ClosedConnection> closed = new ConcurrentLinkedQueue<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    /**
     * Writes {@code yaml} to {@code file} and builds (does not start) a proxy on it: epoll, admin on an ephemeral
     * port and on {@code admin.sock} beside the file, readiness on an ephemeral port, the file polled every 200 ms,
     * finished connections into {@link #closed}; then {@code options}.
     */
    TestNode(Path file, String yaml, UnaryOperator<NodeProxy.Builder> options) throws IOException {
        this.file = file;
        Files.writeString(file, yaml);
        this.proxy = options.apply(NodeProxy.builder()
                .configFile(file)
                .admin(new InetSocketAddress("127.0.0.1", 0))
                .adminSocket(file.resolveSibling("admin.sock"))
                .readiness(new InetSocketAddress("127.0.0.1", 0))
                .pollInterval(Duration.ofMillis(200))
                .transport(TransportKind.EPOLL)
                .sink(closed::add))
                .build();
    }

    /** Replaces the file the way editors do (write a temp file, rename it over) and reloads now. */
    void rewrite(MeshFile config) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, config.yaml());
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        proxy.reload();
    }

    /** Waits (up to 10 s each) for the certificates of the service accounts {@code accounts} of namespace demo. */
    void awaitCertificates(String... accounts) throws Exception {
        IdentityManager identities = proxy.identities().orElseThrow();
        for (String account : accounts) {
            identities.ready(new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "demo", account)).get(10, TimeUnit.SECONDS);
        }
    }

    /** GET on the admin server. */
    String admin(String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + proxy.adminAddress().getPort() + path)).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new AssertionError("GET " + path + " -> " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }

    /** Stops the proxy (drains, as on SIGTERM); the extension calls it again after the test, which is harmless. */
    @Override
    public void close() {
        proxy.close();
    }
}
