package io.nodemesh.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class CidrTest {

    @ParameterizedTest
    @CsvSource({
        "10.0.0.0/8, 10.0.0.0/8, 10.0.0.0/8",
        "192.168.1.10, 192.168.1.10/32, 192.168.1.10",
        "0.0.0.0/0, 0.0.0.0/0, 0.0.0.0/0",
        "FD00::/8, fd00::/8, fd00::/8",
        "2001:db8:0:0:0:0:0:1, 2001:db8::1/128, 2001:db8::1",
        "::1, ::1/128, ::1",
        "::/0, ::/0, ::/0",
        "2001:db8:0:1:0:0:0:0/64, 2001:db8:0:1::/64, 2001:db8:0:1::/64",
        "2001:0:0:1:0:0:1:0/128, 2001::1:0:0:1:0/128, 2001::1:0:0:1:0",
        "1:0:2:3:4:5:6:7, 1:0:2:3:4:5:6:7/128, 1:0:2:3:4:5:6:7",
        "::10.1.2.3/128, ::10.1.2.3/128, ::10.1.2.3",
    })
    void parsesToTheFormTheToolsPrint(String input, String iptables, String nft) {
        Cidr cidr = Cidr.parse(input);
        assertThat(cidr.iptablesForm()).isEqualTo(iptables);
        assertThat(cidr.nftForm()).isEqualTo(nft);
    }

    @ParameterizedTest
    @ValueSource(strings = {"10.0.0.0/33", "10.0.0/8", "256.1.1.1", "10.0.0.1/8", "fd00::1/8", "fd00::/129",
        "example.com", "fe80::1%eth0", "10.0.0.0/", "10.0.0.0/-1", "", "1.2.3.4/8/9", ":::1", "::ffff:10.1.2.3"})
    void rejectsWithTheValueInTheMessage(String input) {
        assertThatThrownBy(() -> Cidr.parse(input)).isInstanceOf(RulesException.class).hasMessageContaining("'" + input + "'");
    }

    @ParameterizedTest
    @CsvSource({"10.0.0.1/8, did you mean 10.0.0.0/8", "fd00::1/8, did you mean fd00::/8"})
    void hostBitsSuggestTheNetwork(String input, String hint) {
        assertThatThrownBy(() -> Cidr.parse(input)).hasMessageContaining(hint);
    }
}
