package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Command-line address and duration forms. */
class SocketAddressesTest {

    @Test
    void parsesAndPrintsIpv4AndBracketedIpv6() {
        InetSocketAddress v4 = SocketAddresses.parse("10.77.0.3:9000");
        InetSocketAddress v6 = SocketAddresses.parse("[fd77::3]:9000");

        assertThat(v4.getAddress().getHostAddress()).isEqualTo("10.77.0.3");
        assertThat(v4.getPort()).isEqualTo(9000);
        assertThat(SocketAddresses.format(v6)).isEqualTo("[fd77:0:0:0:0:0:0:3]:9000");
        assertThat(SocketAddresses.parse(SocketAddresses.format(v6))).isEqualTo(v6);
    }

    @Test
    void rejectsMalformedAddressesNamingThem() {
        assertThatThrownBy(() -> SocketAddresses.parse("10.77.0.3")).hasMessageContaining("'10.77.0.3'");
        assertThatThrownBy(() -> SocketAddresses.parse("fd77::3:9000")).hasMessageContaining("brackets");
        assertThatThrownBy(() -> SocketAddresses.parse("10.77.0.3:http")).hasMessageContaining("port");
        assertThatThrownBy(() -> SocketAddresses.parse("10.77.0.3:70000")).hasMessageContaining("range");
    }

    @Test
    void parsesDurations() {
        assertThat(LoadCli.parseDuration("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(LoadCli.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(LoadCli.parseDuration("100us")).isEqualTo(Duration.ofNanos(100_000));
        assertThat(LoadCli.parseDuration("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(LoadCli.parseDuration("1.5")).isEqualTo(Duration.ofMillis(1500));
        assertThatThrownBy(() -> LoadCli.parseDuration("soon")).hasMessageContaining("'soon'");
    }
}
