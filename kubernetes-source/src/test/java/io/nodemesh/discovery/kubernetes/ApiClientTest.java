package io.nodemesh.discovery.kubernetes;

import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import javax.net.ssl.SSLContext;
import org.junit.jupiter.api.io.TempDir;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link ApiClient#list} against small servers that answer as the API server does: pages, errors, TLS with the
 * cluster's CA, a large page, a connection that breaks off or is closed.
 */
class ApiClientTest {

    @TempDir
    Path dir;

    private HttpServer server;
    private final List<String> queries = new CopyOnWriteArrayList<>();
    private final List<String> authorizations = new CopyOnWriteArrayList<>();
    private ApiClient client;

    @BeforeEach
    void serve() throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/api/v1/pods", exchange -> {
            String query = exchange.getRequestURI().getRawQuery();
            queries.add(query);
            authorizations.add(exchange.getRequestHeaders().getFirst("Authorization"));
            String body;
            if (!query.contains("continue=")) {
                // The first page: metadata first, with the token for the next, as the API server writes it.
                body = """
                        {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"41","continue":"tok/1="},
                         "items":[%s,%s]}""".formatted(pod("a", "10.0.0.1"), pod("b", "10.0.0.2"));
            } else {
                // The last page, its metadata after its items (the order is not promised), an unknown field too.
                body = """
                        {"kind":"PodList","items":[%s],"extra":{"x":[1,2,{"y":3}]},
                         "metadata":{"resourceVersion":"42"}}""".formatted(pod("c", "10.0.0.3"));
            }
            PlainApi.send(exchange, 200, body);
        });
        server.createContext("/api/v1/services", exchange -> PlainApi.send(exchange, 403, """
                {"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403,
                 "message":"services is forbidden: User \\"system:serviceaccount:nodemesh:proxy\\" cannot list"}"""));
        server.createContext("/api/v1/namespaces", exchange -> PlainApi.send(exchange, 200, "[1,2]"));
        server.start();
        client = new ApiClient(PlainApi.config(server.getAddress().getPort(), () -> "t0ken"));
    }

    @AfterEach
    void stop() {
        client.close();
        server.stop(0);
    }

    @Test
    void aListIsReadPageByPageOneObjectAtATimeWithItsVersion() throws Exception {
        List<String> names = new ArrayList<>();
        String version = client.list("/api/v1/pods", "fieldSelector=" + ApiClient.encode("spec.nodeName=node-a"),
                item -> names.add(ApiObjects.pod(item).meta().name()));
        assertThat(names).containsExactly("a", "b", "c");
        assertThat(version).as("the last page's version").isEqualTo("42");
        assertThat(queries).containsExactly("fieldSelector=spec.nodeName%3Dnode-a&limit=" + ApiClient.PAGE,
                "fieldSelector=spec.nodeName%3Dnode-a&limit=" + ApiClient.PAGE + "&continue=tok%2F1%3D");
        assertThat(authorizations).containsOnly("Bearer t0ken");
    }

    @Test
    void anErrorNamesTheRequestTheStatusAndWhatTheApiSaid() {
        assertThatThrownBy(() -> client.list("/api/v1/services", "", item -> { }))
                .isInstanceOf(ApiClient.ApiException.class)
                .hasMessage("GET /api/v1/services: HTTP 403: services is forbidden: User "
                        + "\"system:serviceaccount:nodemesh:proxy\" cannot list")
                .satisfies(e -> assertThat(((ApiClient.ApiException) e).status()).isEqualTo(403));
        List<JsonNode> none = new ArrayList<>();
        assertThatThrownBy(() -> client.list("/api/v1/namespaces", "", none::add))
                .isInstanceOf(ApiClient.ApiException.class).hasMessage("GET /api/v1/namespaces: the answer is not a "
                        + "list");
    }

    @Test
    void overTlsTheClustersCaIsTrustedTheTokenSentAndOneConnectionServesEveryPageAndTheNextList() throws Exception {
        ApiConfigTest.Party party = ApiConfigTest.Party.make("EC", "nodemesh-test-api");
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(party.keyManagers(), null, null);
        HttpsServer https = HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        https.setHttpsConfigurator(new HttpsConfigurator(serverTls));
        List<Integer> clientPorts = new CopyOnWriteArrayList<>();
        https.createContext("/api/v1/pods", exchange -> {
            clientPorts.add(exchange.getRemoteAddress().getPort());
            authorizations.add(exchange.getRequestHeaders().getFirst("Authorization"));
            boolean first = !exchange.getRequestURI().getRawQuery().contains("continue=");
            PlainApi.send(exchange, 200, """
                    {"kind":"PodList","metadata":{"resourceVersion":"%s"%s},"items":[%s]}""".formatted(first ? "1" : "2",
                    first ? ",\"continue\":\"next\"" : "", pod(first ? "a" : "b", first ? "10.0.0.1" : "10.0.0.2")));
        });
        https.start();
        Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), """
                apiVersion: v1
                kind: Config
                current-context: c
                contexts: [{name: c, context: {cluster: k, user: u}}]
                clusters: [{name: k, cluster: {server: "https://127.0.0.1:%d", certificate-authority-data: %s}}]
                users: [{name: u, user: {token: s3cret}}]
                """.formatted(https.getAddress().getPort(), Base64.getEncoder().encodeToString(
                ApiConfigTest.pem(party.cert()).getBytes(StandardCharsets.US_ASCII))));
        try (ApiClient tls = new ApiClient(ApiConfig.kubeconfig(kubeconfig))) {
            for (int round = 0; round < 2; round++) {
                List<String> names = new ArrayList<>();
                assertThat(tls.list("/api/v1/pods", "", item -> names.add(ApiObjects.pod(item).meta().name())))
                        .isEqualTo("2");
                assertThat(names).containsExactly("a", "b");
            }
        } finally {
            https.stop(0);
        }
        assertThat(authorizations).containsExactly("Bearer s3cret", "Bearer s3cret", "Bearer s3cret", "Bearer s3cret");
        assertThat(Set.copyOf(clientPorts)).as("the two lists' four pages, on one kept connection").hasSize(1);
    }

    @Test
    void aLargePageIsReadAsItComesAndAConnectionTheServerClosedIsNotReused() throws Exception {
        int count = 3000;
        AtomicInteger connections = new AtomicInteger();
        try (ServerSocket raw = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofPlatform().daemon().start(() -> {
                while (!raw.isClosed()) {
                    try (Socket s = raw.accept()) {
                        connections.incrementAndGet();
                        readHead(s.getInputStream());
                        // A page of 3,000 pods (about 1.3 MB), chunked in small parts, kept alive as far as the
                        // headers say, and then the connection closed: the next list needs a new one.
                        OutputStream out = s.getOutputStream();
                        out.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                .getBytes(StandardCharsets.US_ASCII));
                        chunk(out, "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[");
                        for (int i = 0; i < count; i++) {
                            chunk(out, (i == 0 ? "" : ",") + pod("p" + i, "10.1." + i / 250 + "." + i % 250));
                        }
                        chunk(out, "]}");
                        out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                        out.flush();
                    } catch (IOException e) {
                        // the test ends
                    }
                }
            });
            ApiClient rawClient = new ApiClient(PlainApi.config(raw.getLocalPort(), null));
            try {
                for (int round = 0; round < 2; round++) {
                    AtomicInteger seen = new AtomicInteger();
                    String version = rawClient.list("/api/v1/pods", "", item -> {
                        if (seen.incrementAndGet() % 500 == 0) {
                            LockSupport.parkNanos(20_000_000); // a slow reader: the connection's reads pause
                        }
                    });
                    assertThat(version).isEqualTo("9");
                    assertThat(seen).hasValue(count);
                }
            } finally {
                rawClient.close();
            }
        }
        assertThat(connections).hasValue(2);
    }

    @Test
    void anAnswerThatBreaksOffFailsTheListSayingSo() throws Exception {
        try (ServerSocket raw = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            Thread.ofPlatform().daemon().start(() -> {
                try (Socket s = raw.accept()) {
                    readHead(s.getInputStream());
                    s.getOutputStream().write(("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{\"items\":["
                            + pod("a", "10.0.0.1")).getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    // the test fails on its own
                }
            });
            ApiClient rawClient = new ApiClient(PlainApi.config(raw.getLocalPort(), null));
            try {
                List<String> names = new ArrayList<>();
                assertThatThrownBy(() -> rawClient.list("/api/v1/pods", "",
                        item -> names.add(ApiObjects.pod(item).meta().name())))
                        .isInstanceOf(IOException.class).hasMessageContaining("GET /api/v1/pods: the answer broke off");
                assertThat(names).containsExactly("a");
            } finally {
                rawClient.close();
            }
        }
    }

    @Test
    void anApiThatCannotBeReachedIsNamed() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = free.getLocalPort();
        }
        try (ApiClient nowhere = new ApiClient(PlainApi.config(port, null))) {
            assertThatThrownBy(() -> nowhere.list("/api/v1/pods", "", item -> { }))
                    .isInstanceOf(IOException.class)
                    .hasMessageContaining("GET /api/v1/pods: cannot connect to the API at http://127.0.0.1:" + port);
        }
    }

    /** Reads a request's head, up to its empty line. */
    private static void readHead(InputStream in) throws IOException {
        int last4 = 0;
        while (last4 != 0x0d0a0d0a) {
            int b = in.read();
            if (b < 0) {
                throw new IOException("the request ended early");
            }
            last4 = last4 << 8 | b;
        }
    }

    private static void chunk(OutputStream out, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        out.write((Integer.toHexString(bytes.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.write(bytes);
        out.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }

    private static String pod(String name, String ip) {
        return """
                {"metadata":{"name":"%s","namespace":"shop","uid":"u-%s","resourceVersion":"7",
                 "managedFields":[{"manager":"kubelet","fieldsV1":{"f:status":{}}}]},
                 "spec":{"nodeName":"node-a","containers":[{"name":"app","image":"app"}]},
                 "status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"}]}}""".formatted(name, name, ip, ip);
    }
}
