package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A service address on real captured traffic: connections from a meshed pod to the service's address are balanced over
 * its ready endpoints (real pods with real apps on the target port), and an endpoint made unready gets no new
 * connection once the snapshot that says so is in force.
 */
@Timeout(value = 150, unit = TimeUnit.SECONDS)
class ServiceTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    /** An address of the pods' network that no pod has: the client routes to it, the capture takes it. */
    private static final InetAddress VIP = InetAddress.ofLiteral("10.77.0.200");

    @Test
    void connectionsToAServiceAreBalancedOverItsReadyEndpoints() throws Exception {
        Netns client = mesh.pod("client");
        Netns b1 = mesh.pod("api1");
        Netns b2 = mesh.pod("api2");
        Netns b3 = mesh.pod("api3");
        List<Netns> backends = List.of(b1, b2, b3);
        TestNode node = mesh.start(mesh.config().capture(client, b1, b2, b3)
                .service("api", VIP, 80, 8080, backends, List.of()));
        for (Netns b : backends) {
            mesh.own(EchoServer.start(b, 8080));
        }

        // 10 000 connections, four at a time: each endpoint takes its third within 10 % (3000-3667).
        Map<String, Long> served = roundTrips(node, client, 10_000, 4);
        assertThat(served.values()).as("10 000 connections over 3 endpoints: %s", served)
                .allSatisfy(n -> assertThat(n).isBetween(3000L, 3667L));
        assertThat(node.closed).filteredOn(c -> c.direction() == Direction.OUTBOUND)
                .extracting(ClosedConnection::outcome).containsOnly(Outcome.OK);

        // api2 turns unready: the next snapshot leaves it out, and it gets nothing new.
        node.rewrite(mesh.config().capture(client, b1, b2, b3).service("api", VIP, 80, 8080, backends, List.of(b2)));
        Map<String, Long> after = roundTrips(node, client, 100, 1);
        assertThat(after.get("demo/api2")).as("unready: %s", after).isZero();
        assertThat(after.get("demo/api1") + after.get("demo/api3")).isEqualTo(100);
    }

    @Test
    void aServiceWithNoReadyEndpointRefusesAndAPortItDoesNotHaveToo() throws Exception {
        Netns client = mesh.pod("client");
        Netns b1 = mesh.pod("api1");
        TestNode node = mesh.start(mesh.config().capture(client, b1)
                .service("api", VIP, 80, 8080, List.of(b1), List.of(b1)));
        mesh.own(EchoServer.start(b1, 8080));

        for (int port : new int[] {80, 81}) {
            assertThatThrownBy(() -> roundTrip(client, new InetSocketAddress(VIP, port), "refused"))
                    .as("port %d", port).isInstanceOf(IOException.class);
        }
        MeshExtension.await("two denials recorded", () -> node.closed.size() == 2);
        assertThat(node.closed).extracting(ClosedConnection::outcome).containsOnly(Outcome.DENIED);
    }

    /**
     * {@code n} connections to the service, {@code parallel} at a time (each client thread one after the other); how
     * many each backend's inbound capture took.
     */
    private static Map<String, Long> roundTrips(TestNode node, Netns client, int n, int parallel) throws Exception {
        Map<String, Long> before = inboundByPod(node);
        ExecutorService clients = Executors.newFixedThreadPool(parallel);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < parallel; t++) {
                int first = t;
                done.add(clients.submit(() -> {
                    for (int i = first; i < n; i += parallel) {
                        assertThat(roundTrip(client, new InetSocketAddress(VIP, 80), "hello " + i))
                                .isEqualTo("hello " + i);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
        } finally {
            clients.shutdownNow();
        }
        MeshExtension.await("every connection recorded at its endpoint", () -> {
            long total = inboundByPod(node).values().stream().mapToLong(Long::longValue).sum()
                    - before.values().stream().mapToLong(Long::longValue).sum();
            return total == n;
        });
        Map<String, Long> now = inboundByPod(node);
        now.replaceAll((pod, count) -> count - before.getOrDefault(pod, 0L));
        return now;
    }

    private static String roundTrip(Netns client, InetSocketAddress to, String text) throws Exception {
        try (SocketChannel ch = EchoServer.connect(client, to)) {
            return EchoServer.roundTrip(ch, text);
        }
    }

    private static Map<String, Long> inboundByPod(TestNode node) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String pod : List.of("demo/api1", "demo/api2", "demo/api3")) {
            out.put(pod, node.proxy.pod(pod).map(p -> p.stats(Direction.INBOUND).snapshot().opened()).orElse(0L));
        }
        return out;
    }
}
