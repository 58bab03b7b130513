package io.nodemesh.proxy.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.StandaloneConfig;
import io.nodemesh.proxy.model.WorkloadRef;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class PodWorkloadsTest {

    @Test
    void aPodAddressIsItsWorkloadAndAServiceAddressAndPortItsService() throws Exception {
        MeshSnapshot mesh = StandaloneConfig.parse("f", """
                pods:
                  - {name: web-1, namespace: shop, serviceAccount: web, ips: [10.1.0.5], netns: /x, labels: {app: web}}
                services:
                  - {name: web, namespace: shop, addresses: [10.96.0.10], ports: [{port: 80, targetPort: 8080}],
                     selector: {app: web}}
                """).snapshot();
        PodWorkloads lookup = new PodWorkloads(() -> mesh);
        assertThat(lookup.workloadAt(InetAddress.ofLiteral("10.1.0.5")))
                .isEqualTo(new WorkloadRef("web-1", "shop", "web"));
        assertThat(lookup.workloadAt(InetAddress.ofLiteral("10.1.0.6"))).isNull();
        assertThat(lookup.serviceAt(new InetSocketAddress("10.96.0.10", 80))).isEqualTo("web.shop.svc.cluster.local");
        assertThat(lookup.serviceAt(new InetSocketAddress("10.96.0.10", 81))).as("a port it does not have").isNull();
        assertThat(lookup.serviceAt(new InetSocketAddress("10.1.0.5", 8080))).as("a pod, not a service").isNull();
    }
}
