package io.nodemesh.proxy;

import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.io.IOException;
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
import java.util.function.BooleanSupplier;

/** An in-process {@link NodeProxy} on a standalone file in a temp dir, with what tests need around it. */
final class TestMesh implements AutoCloseable {

    final Path file;
    final NodeProxy proxy;
    final Queue<ClosedConnection> closed;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private TestMesh(Path file, NodeProxy proxy, Queue<ClosedConnection> closed) {
        this.file = file;
        this.proxy = proxy;
        this.closed = closed;
    }

    /** Writes {@code yaml} to {@code dir/mesh.yaml} and starts a proxy on it (admin on an ephemeral port). */
    static TestMesh start(Path dir, String yaml, TransportKind transport) throws Exception {
        Path file = dir.resolve("mesh.yaml");
        Files.writeString(file, yaml);
        Queue<ClosedConnection> sink = new ConcurrentLinkedQueue<>();
        NodeProxy proxy = NodeProxy.builder()
                .configFile(file)
                .admin(new java.net.InetSocketAddress("127.0.0.1", 0))
                .pollInterval(Duration.ofMillis(200))
                .transport(transport == null ? TransportKind.EPOLL : transport)
                .sink(sink::add)
                .build();
        TestMesh mesh = new TestMesh(file, proxy, sink);
        proxy.start();
        return mesh;
    }

    /** The proxy section most tests use: test ports, short timeouts, ephemeral admin, rules by the proxy. */
    static String proxySection(String rules) {
        return proxySection(rules, "1m", "2s");
    }

    /** The same with the given idle and drain timeouts. */
    static String proxySection(String rules, String idleTimeout, String drainTimeout) {
        return """
                proxy:
                  rules: %s
                  workers: 2
                  connectTimeout: 2s
                  idleTimeout: %s
                  drainTimeout: %s
                """.formatted(rules, idleTimeout, drainTimeout);
    }

    /** A pod entry for {@code ns} named {@code name} in namespace {@code demo}. */
    static String pod(String name, Netns ns) {
        StringBuilder ips = new StringBuilder();
        if (ns.ipv4() != null) {
            ips.append(ns.ipv4().getHostAddress());
        }
        if (ns.ipv6() != null) {
            ips.append(ips.isEmpty() ? "" : ", ").append(ns.ipv6().getHostAddress());
        }
        return """
                  - name: %s
                    namespace: demo
                    serviceAccount: %s
                    ips: [%s]
                    netns: %s
                """.formatted(name, name, ips, ns.path());
    }

    /** Replaces the file the way editors do (write a temp file, rename it over) and reloads now. */
    void rewrite(String yaml) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, yaml);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        proxy.reload();
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

    /** Waits (at most 30 s) until {@code condition} holds. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    @Override
    public void close() {
        proxy.close();
    }
}
