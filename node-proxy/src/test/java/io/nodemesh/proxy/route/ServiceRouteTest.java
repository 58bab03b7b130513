package io.nodemesh.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A service address balanced over its ready endpoints: the decision and the balancer, without sockets. */
class ServiceRouteTest {

    private static final PodSpec CLIENT = pod("client", "shop", "web", true, "10.1.0.2");
    private static final PodSpec B1 = pod("api-1", "shop", "api", true, "10.1.1.1");
    private static final PodSpec B2 = pod("api-2", "shop", "api", true, "10.1.1.2");
    private static final PodSpec B3 = pod("api-3", "shop", "api", true, "10.1.1.3");
    private static final PodSpec LEGACY = pod("old-1", "shop", "old", false, "10.1.1.9");
    private static final InetAddress VIP = InetAddress.ofLiteral("10.96.0.10");

    private static PodSpec pod(String name, String ns, String sa, boolean meshed, String ip) {
        return new PodSpec(name, ns, sa, List.of(InetAddress.ofLiteral(ip)), "n1", Map.of(),
                Path.of("/var/run/netns/" + name), meshed, meshed, List.of(), List.of(), List.of());
    }

    private static ServiceSpec.Endpoint ep(PodSpec pod, boolean ready, int port) {
        return new ServiceSpec.Endpoint(pod.ips().getFirst(), ready, pod.key(), "n1", Map.of("http", port));
    }

    private static MeshSnapshot mesh(ServiceSpec.Endpoint... endpoints) {
        ServiceSpec svc = new ServiceSpec("shop", "api", List.of(VIP),
                List.of(new ServiceSpec.Port("http", 80, "http")), List.of(endpoints));
        return new MeshSnapshot(ProxySettings.defaults(), List.of(), List.of(CLIENT, B1, B2, B3, LEGACY), List.of(svc));
    }

    private static InetSocketAddress at(InetAddress ip, int port) {
        return new InetSocketAddress(ip, port);
    }

    @Test
    void aServicePortGoesToAReadyEndpointsTargetPortThroughTheMesh() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        MeshSnapshot mesh = mesh(ep(B1, true, 8080));

        Route route = decider.decide(mesh, CLIENT, at(VIP, 80));

        assertThat(route).isInstanceOf(Route.Tunnel.class);
        Route.Tunnel t = (Route.Tunnel) route;
        assertThat(t.address()).isEqualTo(at(B1.ips().getFirst(), 8080));
        assertThat(t.identity()).hasToString("spiffe://cluster.local/ns/shop/sa/api");
        assertThat(decider.load().outstanding(t.address())).isEqualTo(1);
        t.lease().release();
        t.lease().release();
        assertThat(decider.load().outstanding(t.address())).as("released once").isZero();
    }

    @Test
    void anEndpointOutsideTheMeshIsReachedDirectly() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        Route route = decider.decide(mesh(ep(LEGACY, true, 9090)), CLIENT, at(VIP, 80));

        assertThat(route).isInstanceOf(Route.Direct.class);
        assertThat(((Route.Direct) route).address()).isEqualTo(at(LEGACY.ips().getFirst(), 9090));
    }

    @Test
    void noReadyEndpointOrAnUnknownPortOnTheServiceAddressIsDenied() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        MeshSnapshot mesh = mesh(ep(B1, false, 8080));

        assertThat(decider.decide(mesh, CLIENT, at(VIP, 80))).isInstanceOfSatisfying(Route.Deny.class,
                d -> assertThat(d.reason()).contains("shop/api", "no ready endpoint"));
        assertThat(decider.decide(mesh, CLIENT, at(VIP, 81))).isInstanceOfSatisfying(Route.Deny.class,
                d -> assertThat(d.reason()).contains("no service has port 81"));
    }

    @Test
    void anUnknownAddressStillPassesThrough() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        assertThat(decider.decide(mesh(ep(B1, true, 8080)), CLIENT, at(InetAddress.ofLiteral("10.96.0.11"), 80)))
                .isSameAs(Route.PASSTHROUGH);
    }

    @Test
    void tenThousandConnectionsSpreadEvenlyOverThreeReadyEndpoints() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        MeshSnapshot mesh = mesh(ep(B1, true, 8080), ep(B2, true, 8080), ep(B3, true, 8080));
        Map<InetSocketAddress, Integer> chosen = new HashMap<>();
        List<EndpointLoad.Lease> open = new ArrayList<>();
        java.util.Random closer = new java.util.Random(7);
        for (int i = 0; i < 10_000; i++) {
            Route r = decider.decide(mesh, CLIENT, at(VIP, 80));
            chosen.merge(((Route.Tunnel) r).address(), 1, Integer::sum);
            open.add(r.lease());
            // Connections close in random order, some stay open a while: outstanding counts move.
            if (open.size() > 50) {
                open.remove(closer.nextInt(open.size())).release();
            }
        }
        assertThat(chosen).hasSize(3);
        chosen.values().forEach(n -> assertThat(n.doubleValue()).isCloseTo(10_000 / 3.0, within(10_000 / 3.0 * 0.10)));
    }

    @Test
    void leastOutstandingWinsWhenOneEndpointIsSlow() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        MeshSnapshot mesh = mesh(ep(B1, true, 8080), ep(B2, true, 8080));
        InetSocketAddress slow = at(B1.ips().getFirst(), 8080);
        // 40 connections open at once; then B2's finish and B1's stay open (a slow endpoint).
        List<EndpointLoad.Lease> open = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            open.add(decider.decide(mesh, CLIENT, at(VIP, 80)).lease());
        }
        open.stream().filter(l -> !l.backend().address().equals(slow)).forEach(EndpointLoad.Lease::release);
        int held = decider.load().outstanding(slow);
        assertThat(held).as("balanced while both were equal").isBetween(15, 25);

        for (int i = 0; i < 1000; i++) {
            Route.Tunnel t = (Route.Tunnel) decider.decide(mesh, CLIENT, at(VIP, 80));
            assertThat(t.address()).as("two endpoints are always both compared: the loaded one never wins")
                    .isNotEqualTo(slow);
            t.lease().release();
        }
        assertThat(decider.load().outstanding(slow)).isEqualTo(held);
    }

    @Test
    void anEndpointMadeUnreadyGetsNoNewConnectionOnTheNextSnapshot() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        MeshSnapshot before = mesh(ep(B1, true, 8080), ep(B2, true, 8080), ep(B3, true, 8080));
        MeshSnapshot after = mesh(ep(B1, true, 8080), ep(B2, false, 8080), ep(B3, true, 8080));
        InetSocketAddress b2 = at(B2.ips().getFirst(), 8080);
        int toB2Before = 0;
        for (int i = 0; i < 300; i++) {
            Route.Tunnel t = (Route.Tunnel) decider.decide(before, CLIENT, at(VIP, 80));
            toB2Before += t.address().equals(b2) ? 1 : 0;
        }
        assertThat(toB2Before).isPositive();
        for (int i = 0; i < 3000; i++) {
            Route.Tunnel t = (Route.Tunnel) decider.decide(after, CLIENT, at(VIP, 80));
            assertThat(t.address()).isNotEqualTo(b2);
        }
    }

    @Test
    void countsOfEndpointsThatLeftAndHaveNothingOpenAreForgotten() {
        RouteDecider decider = RouteDecider.defaultTrustDomain();
        MeshSnapshot with = mesh(ep(B1, true, 8080));
        Route.Tunnel t = (Route.Tunnel) decider.decide(with, CLIENT, at(VIP, 80));
        MeshSnapshot without = mesh(ep(B2, true, 8080));

        decider.load().retain(without);
        assertThat(decider.load().outstanding(t.address())).as("still open: kept").isEqualTo(1);
        t.lease().release();
        decider.load().retain(without);
        assertThat(decider.load().outstanding(t.address())).isZero();
    }
}
