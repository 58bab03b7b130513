package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.redirect.PodRules;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.rules.ConnectCapture;
import io.nodemesh.testing.OwnThreads;
import io.nodemesh.topology.Netns;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code /healthz/ready} as the kubelet probes it: 503 while the proxy's first snapshot is still being reconciled (the
 * pods' rules held back here), 200 once it serves, 503 again as soon as it drains, then nothing.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReadinessTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void notReadyUntilThePodsAreReconciledReadyWhileServingNotReadyWhileDraining() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        CountDownLatch rulesMayGo = new CountDownLatch(1);
        CompletableFuture<TestNode> started = CompletableFuture.supplyAsync(() -> {
            try {
                return mesh.start(mesh.config().drainTimeout("3s").capture(a), o -> o
                        .readiness(new InetSocketAddress("127.0.0.1", port))
                        .rules(backend -> heldBack(RedirectRules.forBackend(backend, ConnectCapture.open()), rulesMayGo)));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, OwnThreads.EACH);
        URI probe = URI.create("http://127.0.0.1:" + port + "/healthz/ready");

        try {
            HttpResponse<String> starting = awaitAnswer(probe);
            assertThat(starting.statusCode()).isEqualTo(503);
            assertThat(starting.body()).isEqualTo("not ready: starting (the pods are not reconciled yet)\n");
            assertThat(started).isNotDone();
        } finally {
            rulesMayGo.countDown(); // also when the test failed: the proxy must be able to finish starting and stop
        }
        TestNode node = started.get(30, TimeUnit.SECONDS);
        HttpResponse<String> ready = get(probe);
        assertThat(ready.statusCode()).isEqualTo(200);
        assertThat(ready.body()).isEqualTo("ready\n");
        assertThat(get(URI.create("http://127.0.0.1:" + port + "/healthz")).statusCode()).isEqualTo(404);

        // A connection held open keeps the drain going for its timeout: the probe says so meanwhile.
        mesh.own(EchoServer.start(b, 7000));
        SocketChannel held = mesh.own(EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 7000)));
        assertThat(EchoServer.roundTrip(held, "hi")).isEqualTo("hi");
        CompletableFuture<Void> closing = CompletableFuture.runAsync(node::close, OwnThreads.EACH);
        await("the probe says draining", () -> {
            try {
                HttpResponse<String> r = get(probe);
                return r.statusCode() == 503 && r.body().equals("not ready: draining\n");
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertThat(closing).isNotDone();
        closing.get(30, TimeUnit.SECONDS);
        try (Socket socket = new Socket()) {
            assertThatThrownBy(() -> socket.connect(new InetSocketAddress("127.0.0.1", port), 2000))
                    .as("nothing listens after close").isInstanceOf(ConnectException.class);
        }
    }

    /** {@code rules}, whose installs wait until {@code go} opens. */
    private static PodRules heldBack(PodRules rules, CountDownLatch go) {
        return new PodRules() {
            @Override
            public void install(PodSpec pod, ProxySettings settings) {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
                rules.install(pod, settings);
            }

            @Override
            public void remove(PodSpec pod, ProxySettings settings) {
                rules.remove(pod, settings);
            }
        };
    }

    private HttpResponse<String> get(URI uri) throws Exception {
        return http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** The first answer of {@code uri}, once something listens there (at most 20 s). */
    private HttpResponse<String> awaitAnswer(URI uri) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (true) {
            try {
                return get(uri);
            } catch (ConnectException notYet) {
                if (System.nanoTime() > deadline) {
                    throw notYet;
                }
                Thread.sleep(20);
            }
        }
    }
}
