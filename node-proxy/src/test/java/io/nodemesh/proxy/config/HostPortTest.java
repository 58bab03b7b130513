package io.nodemesh.proxy.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** HOST:PORT as the config file, the command lines, the load tools and the log lines read and write it. */
class HostPortTest {

    @Test
    void parsesIpv4AndBracketedIpv6AndPrintsThemBackTheWayTheyAreTyped() {
        InetSocketAddress v4 = HostPort.parse("10.77.0.3:9000");
        InetSocketAddress v6 = HostPort.parse("[fd77::3]:9000");

        assertThat(v4).isEqualTo(new InetSocketAddress(InetAddress.ofLiteral("10.77.0.3"), 9000));
        assertThat(HostPort.format(v4)).isEqualTo("10.77.0.3:9000");
        assertThat(HostPort.format(v6)).isEqualTo("[fd77::3]:9000");
        assertThat(HostPort.parse(HostPort.format(v6))).isEqualTo(v6);
        assertThat(HostPort.parse(" 127.0.0.1:0 ")).isEqualTo(new InetSocketAddress(InetAddress.ofLiteral("127.0.0.1"), 0));
    }

    @Test
    void printsTheWildcardAddressesAsPeopleWriteThem() {
        assertThat(HostPort.format(new InetSocketAddress(InetAddress.ofLiteral("::"), 15020))).isEqualTo("[::]:15020");
        assertThat(HostPort.format(new InetSocketAddress(InetAddress.ofLiteral("0.0.0.0"), 15020)))
                .isEqualTo("0.0.0.0:15020");
        assertThat(HostPort.format(new InetSocketAddress(InetAddress.ofLiteral("::1"), 15000))).isEqualTo("[::1]:15000");
    }

    /** The telemetry agent, which cannot depend on node-proxy, prints addresses with Netty's NetUtil: the same text. */
    @Test
    void writesWhatNettysNetUtilWrites() {
        for (String ip : List.of("::", "::1", "fd77::3", "fe80::1:0:0:1", "1:0:0:2:0:0:0:3", "2001:db8:0:1:1:1:1:1",
                "1:2:3:4:5:6:7:8", "0:0:1::", "10.77.0.2")) {
            InetSocketAddress a = new InetSocketAddress(InetAddress.ofLiteral(ip), 80);
            assertThat(HostPort.format(a)).as(ip).isEqualTo(NetUtil.toSocketAddressString(a));
        }
    }

    @Test
    void rejectsMalformedAddressesNamingThem() {
        assertThatThrownBy(() -> HostPort.parse("10.77.0.3")).hasMessage("'10.77.0.3' is not HOST:PORT (e.g. 127.0.0.1:15000 or [::1]:15000)");
        assertThatThrownBy(() -> HostPort.parse("fd77::3:9000")).hasMessageContaining("brackets");
        assertThatThrownBy(() -> HostPort.parse("10.77.0.3:http")).hasMessage("'10.77.0.3:http' has no numeric port");
        assertThatThrownBy(() -> HostPort.parse("10.77.0.3:70000")).hasMessageContaining("out of range (0-65535)");
        assertThatThrownBy(() -> HostPort.parse("localhost:15000")).hasMessage("'localhost:15000': 'localhost' is not an IP address");
        assertThatThrownBy(() -> HostPort.parse("10.1:80")).hasMessageContaining("is not an IP address");
    }
}
