package io.nodemesh.discovery.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link WatchedKind} against a small HTTP server that lists but refuses the watch, as an API server does for a
 * service account allowed to {@code list} but not to {@code watch}, or as a proxy in front of it does that does not
 * pass WebSocket upgrades: the kind is listed, and the refusal is reported with what the server said, in the
 * source's status too.
 */
class WatchedKindTest {

    private HttpServer server;
    private ApiClient client;
    private WatchedKind<ApiObjects.Pod> pods;
    private volatile int watchStatus;
    private final List<String> failures = new CopyOnWriteArrayList<>();

    @BeforeEach
    void serve() throws Exception {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/api/v1/pods", exchange -> {
            if (!exchange.getRequestURI().getRawQuery().contains("watch=true")) {
                PlainApi.send(exchange, 200, """
                        {"kind":"PodList","metadata":{"resourceVersion":"5"},"items":[{"metadata":{"name":"web",
                         "namespace":"shop","uid":"u1","resourceVersion":"5"},"spec":{"nodeName":"node-a"}}]}""");
            } else if (watchStatus == 403) {
                PlainApi.send(exchange, 403, """
                        {"kind":"Status","status":"Failure","reason":"Forbidden","code":403,"message":"pods is \
                        forbidden: User \\"system:serviceaccount:nodemesh:nodemesh\\" cannot watch resource \\"pods\\" \
                        in API group \\"\\" at the cluster scope"}""");
            } else {
                PlainApi.send(exchange, watchStatus, "upgrade not taken here");
            }
        });
        server.start();
        client = new ApiClient(PlainApi.config(server.getAddress().getPort(), null));
    }

    @AfterEach
    void stop() {
        if (pods != null) {
            pods.stop();
        }
        client.close();
        server.stop(0);
    }

    @Test
    void aWatchTheApiForbidsIsReportedWithItsMessageWhileTheListStands() throws Exception {
        watchStatus = 403;
        start();
        assertThat(pods.objects()).extracting(p -> p.meta().key()).containsExactly("shop/web");
        awaitFailure();
        assertThat(failures.getFirst()).isEqualTo("pods of node node-a: watch /api/v1/pods: HTTP 403: pods is "
                + "forbidden: User \"system:serviceaccount:nodemesh:nodemesh\" cannot watch resource \"pods\" in API "
                + "group \"\" at the cluster scope");
        assertThat(pods.isWatching()).isFalse();
        assertThat(pods.error()).isEqualTo(failures.getLast());
    }

    @Test
    void aWatchWhoseUpgradeIsNotTakenSaysWhatToLookAt() throws Exception {
        watchStatus = 400;
        start();
        awaitFailure();
        assertThat(failures.getFirst()).isEqualTo("pods of node node-a: watch /api/v1/pods: HTTP 400 (the watch is a "
                + "WebSocket: does a proxy in front of the API server pass upgrades?)");
    }

    @Test
    void theSourcesStatusSaysWhichWatchIsRefusedAndWhy() throws Exception {
        watchStatus = 403;
        server.createContext("/", exchange -> {
            if (exchange.getRequestURI().getRawQuery().contains("watch=true")) {
                PlainApi.send(exchange, 403, "{\"kind\":\"Status\",\"code\":403,\"message\":\"forbidden\"}");
            } else {
                PlainApi.send(exchange, 200, "{\"kind\":\"List\",\"metadata\":{\"resourceVersion\":\"5\"},\"items\":[]}");
            }
        });
        KubernetesSource source = MockApi.sourceTo("node-a", server.getAddress().getPort()).build();
        try {
            source.start();
            String pods = "pods of node node-a: 1 object(s), not watching, retrying: watch /api/v1/pods: HTTP 403: "
                    + "pods is forbidden: User \"system:serviceaccount:nodemesh:nodemesh\" cannot watch resource "
                    + "\"pods\" in API group \"\" at the cluster scope";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (!source.status().details().contains(pods)) {
                assertThat(System.nanoTime()).as(source.status().toString()).isLessThan(deadline);
                Thread.sleep(20);
            }
            assertThat(source.status().details()).contains("namespaces: 0 object(s), not watching, retrying: watch "
                    + "/api/v1/namespaces: HTTP 403: forbidden");
        } finally {
            source.close();
        }
    }

    private void start() throws Exception {
        pods = new WatchedKind<>("pods of node node-a", "/api/v1/pods", "", ApiObjects::pod, client, () -> { },
                failures::add, Duration.ofMillis(100), Duration.ofMillis(500));
        pods.start().get(10, TimeUnit.SECONDS);
    }

    private void awaitFailure() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (failures.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no failure reported; error: " + pods.error());
            }
            Thread.sleep(20);
        }
    }
}
