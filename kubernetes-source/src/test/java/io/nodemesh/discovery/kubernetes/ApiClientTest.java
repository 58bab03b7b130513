package io.nodemesh.discovery.kubernetes;

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

/** {@link ApiClient#list} against a small HTTP server that answers as the API server does: pages, errors. */
class ApiClientTest {

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

    private static String pod(String name, String ip) {
        return """
                {"metadata":{"name":"%s","namespace":"shop","uid":"u-%s","resourceVersion":"7",
                 "managedFields":[{"manager":"kubelet","fieldsV1":{"f:status":{}}}]},
                 "spec":{"nodeName":"node-a","containers":[{"name":"app","image":"app"}]},
                 "status":{"phase":"Running","podIP":"%s","podIPs":[{"ip":"%s"}]}}""".formatted(name, name, ip, ip);
    }
}
