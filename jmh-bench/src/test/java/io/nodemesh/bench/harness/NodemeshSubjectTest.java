package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class NodemeshSubjectTest {

    @Test
    void countsConnectionsRedirectedToTheOutboundPortOnly() {
        // iptables-save -c -t nat from a namespace with capture rules after three outbound connects:
        // the REDIRECT to 15001 counted 3, the inbound REDIRECT to 15006 counted none and is not added.
        assertThat(NodemeshSubject.redirectedPackets(Captured.read("iptables-save-c-redirect.txt"))).isEqualTo(3);
    }

    @Test
    void saysWhenThereIsNoOutboundRedirectRule() {
        String withoutOutbound = Captured.read("iptables-save-c-redirect.txt").replaceAll("(?m)^.*--to-ports 15001\\n", "");

        assertThat(NodemeshSubject.redirectedPackets(withoutOutbound)).isEqualTo(-1);
    }
}
