package io.nodemesh.proxy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import org.junit.jupiter.api.Test;

class SpiffeIdTest {

    @Test
    void parsesWhatItPrints() {
        SpiffeId id = SpiffeId.parse("spiffe://cluster.local/ns/pay/sa/payments");
        assertThat(id).isEqualTo(new SpiffeId("cluster.local", "pay", "payments"));
        assertThat(SpiffeId.parse(id.toString())).isEqualTo(id);
        assertThat(id.toUri()).isEqualTo(URI.create("spiffe://cluster.local/ns/pay/sa/payments"));
        assertThat(id.toUri().getHost()).isEqualTo("cluster.local");
    }

    @Test
    void refusesAnythingButAWorkloadId() {
        for (String bad : new String[] {"spiffe://cluster.local", "spiffe://cluster.local/ns/pay",
                "spiffe://cluster.local/ns/pay/sa/payments/x", "spiffe://cluster.local:443/ns/pay/sa/payments",
                "spiffe://cluster.local/ns/pay/sa/payments?x=1", "https://cluster.local/ns/pay/sa/payments",
                "spiffe://Cluster.Local/ns/pay/sa/payments", "spiffe://cluster.local/ns/Pay/sa/payments",
                "spiffe:///ns/pay/sa/payments", ""}) {
            assertThatThrownBy(() -> SpiffeId.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'" + bad + "'");
        }
    }

    @Test
    void trustDomainsAreLowerCaseNames() {
        assertThat(SpiffeId.checkTrustDomain("mesh-1.example_org")).isEqualTo("mesh-1.example_org");
        assertThatThrownBy(() -> SpiffeId.checkTrustDomain("Mesh.example"))
                .hasMessage("'Mesh.example' is not a trust domain (lower-case letters, digits, '.', '-' and '_')");
    }
}
