package io.nodemesh.proxy.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.config.ProxySettings;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MeshSnapshotLookupTest {

    @Test
    void lookupsReturnPrebuiltResultsWithoutWrappingAgain() throws Exception {
        PodSpec pod = PodSpec.local("a", "ns", "sa", List.of(InetAddress.getByName("10.77.0.2")),
                Path.of("/var/run/netns/a"));
        MeshSnapshot cfg = new MeshSnapshot(ProxySettings.defaults(), List.of(pod));
        // An equal but distinct address, as a connection's would be.
        InetAddress ip = InetAddress.getByAddress(new byte[] {10, 77, 0, 2});
        assertThat(cfg.podByIp(ip)).containsSame(pod);
        // The same Optional each time: nothing is allocated per lookup (PodLookupBenchmark measures it).
        assertThat(cfg.podByIp(ip)).isSameAs(cfg.podByIp(InetAddress.getByName("10.77.0.2")));
        assertThat(cfg.podByIp(InetAddress.getByName("10.78.0.1"))).isEmpty();
    }
}
