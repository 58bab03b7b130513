package io.nodemesh.proxy.route;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The route decision as a pure function: no sockets, no namespaces. */
class RouteDeciderTest {

    private static final PodSpec CLIENT = pod("client", "shop", "web", true, "10.1.0.2", "fd01::2");
    private static final PodSpec SERVER = pod("server", "pay", "payments", true, "10.1.0.3");
    private static final PodSpec LEFT_ALONE = pod("legacy", "pay", "legacy", false, "10.1.0.4");
    private static final MeshSnapshot MESH = new MeshSnapshot(ProxySettings.defaults(), List.of(CLIENT, SERVER, LEFT_ALONE));
    private static final RouteDecider DECIDER = RouteDecider.defaultTrustDomain();

    private static PodSpec pod(String name, String ns, String sa, boolean capture, String... ips) {
        return new PodSpec(name, ns, sa, List.of(ips).stream().map(InetAddress::ofLiteral).toList(), "",
                Map.of(), Path.of("/var/run/netns/" + name), capture, capture, List.of(), List.of(), List.of());
    }

    private static InetSocketAddress at(String ip, int port) {
        return new InetSocketAddress(InetAddress.ofLiteral(ip), port);
    }

    @Test
    void anAddressOutsideTheMeshPassesThrough() {
        assertThat(DECIDER.decide(MESH, CLIENT, at("192.0.2.10", 443))).isSameAs(Route.PASSTHROUGH);
    }

    @Test
    void aCapturedPodIsReachedThroughTheMeshAsItsOwnIdentity() {
        Route route = DECIDER.decide(MESH, CLIENT, at("10.1.0.3", 8080));

        assertThat(route).isEqualTo(new Route.Tunnel(new SpiffeId("cluster.local", "pay", "payments"), at("10.1.0.3", 8080)));
        assertThat(((Route.Tunnel) route).identity()).hasToString("spiffe://cluster.local/ns/pay/sa/payments");
    }

    @Test
    void theTrustDomainIsTheDecidersOwn() {
        Route route = new RouteDecider("prod.example", new EndpointLoad()).decide(MESH, CLIENT, at("10.1.0.3", 8080));

        assertThat(((Route.Tunnel) route).identity()).hasToString("spiffe://prod.example/ns/pay/sa/payments");
    }

    @Test
    void aPodKnownButNotCapturedPassesThrough() {
        assertThat(DECIDER.decide(MESH, CLIENT, at("10.1.0.4", 8080))).isSameAs(Route.PASSTHROUGH);
    }

    @Test
    void ipv6AddressesOfAPodAreThatPod() {
        Route route = DECIDER.decide(MESH, SERVER, at("fd01::2", 9000));

        assertThat(route).isInstanceOf(Route.Tunnel.class);
        assertThat(((Route.Tunnel) route).identity().serviceAccount()).isEqualTo("web");
    }

    @Test
    void theProxysOwnPortsOnAMeshedPodAreDeniedWithTheReason() {
        for (int port : new int[] {15001, 15006, RouteDecider.TUNNEL_PORT}) {
            Route route = DECIDER.decide(MESH, CLIENT, at("10.1.0.3", port));

            assertThat(route).as("port %d", port).isInstanceOf(Route.Deny.class);
            assertThat(((Route.Deny) route).reason()).contains("port " + port, "pay/server", "shop/client");
        }
    }

    @Test
    void theCapturePortsFollowTheSnapshotsSettings() {
        ProxySettings d = ProxySettings.defaults();
        ProxySettings moved = new ProxySettings(d.mark(), 16001, 16006, d.connectTimeout(), d.idleTimeout(),
                d.drainTimeout(), d.rules(), d.capture(), d.keepalive());
        MeshSnapshot mesh = new MeshSnapshot(moved, List.of(CLIENT, SERVER));

        assertThat(DECIDER.decide(mesh, CLIENT, at("10.1.0.3", 16006))).isInstanceOf(Route.Deny.class);
        assertThat(DECIDER.decide(mesh, CLIENT, at("10.1.0.3", 15006))).isInstanceOf(Route.Tunnel.class);
        assertThat(DECIDER.decide(mesh, CLIENT, at("192.0.2.1", 16006))).as("not a meshed pod").isSameAs(Route.PASSTHROUGH);
    }

    @Test
    void anEmptySnapshotPassesEverythingThrough() {
        assertThat(DECIDER.decide(MeshSnapshot.empty(), CLIENT, at("10.1.0.3", 15006))).isSameAs(Route.PASSTHROUGH);
    }
}
