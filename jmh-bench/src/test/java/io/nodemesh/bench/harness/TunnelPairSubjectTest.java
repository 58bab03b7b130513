package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PeerAuthentication;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.StandaloneConfig;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.route.Route;
import io.nodemesh.proxy.route.RouteDecider;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The tunnel pair's two node files, read by the proxy's own parser (what {@code haproxy -c} is to the HAProxy pair):
 * each node captures its own pod only, both use the run's mesh CA, the namespace is strict, and node 1 routes the
 * client's connection to the server through the tunnel as the server's identity.
 */
class TunnelPairSubjectTest {

    private static final Path CA = Path.of("/run/bench/nodemesh-mtls/ca");
    private static final TunnelPairSubject.PodEntry CLIENT = new TunnelPairSubject.PodEntry("client",
            InetAddress.ofLiteral("10.77.0.9"), TunnelPairSubject.CLIENT_NODE, Path.of("/run/netns/mclient"));
    private static final TunnelPairSubject.PodEntry SERVER = new TunnelPairSubject.PodEntry("server",
            InetAddress.ofLiteral("10.77.0.10"), TunnelPairSubject.SERVER_NODE, Path.of("/run/netns/mserver"));

    private static TunnelPairSubject.PodEntry elsewhere(TunnelPairSubject.PodEntry p) {
        return new TunnelPairSubject.PodEntry(p.name(), p.ip(), p.node(), null);
    }

    private static StandaloneConfig.Document parse(String yaml) throws Exception {
        return StandaloneConfig.parse("node.yaml", yaml);
    }

    @Test
    void eachNodeCapturesOnlyItsOwnPodWithTheMeshCaInAStrictNamespace() throws Exception {
        StandaloneConfig.Document node1 = parse(TunnelPairSubject.nodeConfig(CA, CLIENT, elsewhere(SERVER)));
        StandaloneConfig.Document node2 = parse(TunnelPairSubject.nodeConfig(CA, SERVER, elsewhere(CLIENT)));

        for (StandaloneConfig.Document d : new StandaloneConfig.Document[] {node1, node2}) {
            assertThat(d.boot().identity().caDir()).isEqualTo(CA);
            assertThat(d.boot().workers()).isEqualTo(1);
            assertThat(d.snapshot().peerAuthentication(TunnelPairSubject.NAMESPACE)).isEqualTo(PeerAuthentication.STRICT);
            assertThat(d.pods().values()).allMatch(PodSpec::meshed);
        }
        assertThat(captured(node1)).containsExactly("mesh/client");
        assertThat(captured(node2)).containsExactly("mesh/server");
        assertThat(node1.pods().get("mesh/client").netns()).isEqualTo(CLIENT.netns());
        assertThat(node1.pods().get("mesh/server").node()).isEqualTo(TunnelPairSubject.SERVER_NODE);
        assertThat(node2.pods().get("mesh/client").netns()).isNull();
    }

    @Test
    void theClientsNodeSendsItsConnectionToTheServerThroughTheTunnelAsTheServersIdentity() throws Exception {
        MeshSnapshot node1 = parse(TunnelPairSubject.nodeConfig(CA, CLIENT, elsewhere(SERVER))).snapshot();
        InetSocketAddress rr = new InetSocketAddress(SERVER.ip(), MatrixBenchmark.RR_PORT);

        Route route = RouteDecider.defaultTrustDomain().decide(node1, node1.pods().get("mesh/client"), rr);

        assertThat(route).isEqualTo(new Route.Tunnel(new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "mesh", "server"), rr));
    }

    private static java.util.List<String> captured(StandaloneConfig.Document d) {
        return d.pods().values().stream().filter(PodSpec::capture).filter(p -> p.netns() != null).map(PodSpec::key).toList();
    }
}
