package io.nodemesh.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import java.util.stream.Stream;

class RedirectPlanTest {

    @Test
    void defaults() {
        RedirectPlan plan = RedirectPlan.builder().build();
        assertThat(plan.outboundPort()).isEqualTo(15001);
        assertThat(plan.inboundPort()).isEqualTo(15006);
        assertThat(plan.mark()).isEqualTo(0x539);
        assertThat(plan.markMask()).isEqualTo(0xfff);
        assertThat(plan.families()).containsExactly(IpFamily.IPV4, IpFamily.IPV6);
        assertThat(plan.exemptInboundPorts()).containsExactly(15000, 15001, 15006, 15008, 15020, 15021);
        assertThat(plan.exemptOutboundPorts()).isEmpty();
        assertThat(plan.comment()).isEqualTo("nodemesh");
    }

    @Test
    void collectsAndSortsExemptions() {
        RedirectPlan plan = RedirectPlan.builder().podLabel("demo/client").outboundPort(16001)
                .exemptPort(22).exemptPort(9090).exemptPort(22).exemptInboundPort(8081)
                .exemptCidr("10.0.0.0/8").exemptCidr("fd00::/8").exemptCidr("10.0.0.0/8").build();
        assertThat(plan.exemptOutboundPorts()).containsExactly(22, 9090);
        assertThat(plan.exemptInboundPorts()).contains(8081, 16001, 15001, 15008);
        assertThat(plan.exemptCidrs(IpFamily.IPV4)).extracting(Cidr::iptablesForm).containsExactly("10.0.0.0/8");
        assertThat(plan.exemptCidrs(IpFamily.IPV6)).extracting(Cidr::iptablesForm).containsExactly("fd00::/8");
        assertThat(plan.comment()).isEqualTo("nodemesh demo/client");
    }

    @Test
    void markSpecParsesHexDecimalAndMask() {
        RedirectPlan plan = RedirectPlan.builder().mark("0x100/0xF00").build();
        assertThat(plan.mark()).isEqualTo(0x100);
        assertThat(plan.markMask()).isEqualTo(0xf00);
        assertThat(RedirectPlan.builder().mark("1337").build().mark()).isEqualTo(0x539);
        assertThat(RedirectPlan.builder().mark("0x1/0xffffffff").build().markMask()).isEqualTo(-1);
    }

    static Stream<Arguments> invalid() {
        return Stream.of(
                bad(b -> b.outboundPort(0), "outboundPort: 0"),
                bad(b -> b.inboundPort(70000), "inboundPort: 70000"),
                bad(b -> b.inboundPort(15001), "inboundPort: 15001 is also the outboundPort"),
                bad(b -> b.exemptPort(65536), "exemptPort: 65536"),
                bad(b -> b.exemptInboundPort(-1), "exemptInboundPort: -1"),
                bad(b -> b.mark(0), "mark: 0x0"),
                bad(b -> b.mark("0"), "mark: 0x0"),
                bad(b -> b.mark("0x1000"), "mark: 0x1000 has bits outside markMask 0xfff"),
                bad(b -> b.mark("banana"), "mark: 'banana'"),
                bad(b -> b.mark("0x539/0"), "markMask: 0x0"),
                bad(b -> b.mark("0x1/0x2/0x3"), "mark: '0x1/0x2/0x3'"),
                bad(b -> b.mark("0x1ffffffff"), "mark: '0x1ffffffff'"),
                bad(b -> b.exemptCidr("10.0.0.0/33"), "exemptCidr: '10.0.0.0/33'"),
                bad(b -> b.exemptCidr("not-an-ip"), "exemptCidr: 'not-an-ip'"),
                bad(b -> b.ipv6(false).exemptCidr("fd00::/8"), "exemptCidr: 'fd00::/8' is IPv6 but the plan does not capture"),
                bad(b -> b.ipv4(false).exemptCidr("10.0.0.0/8"), "exemptCidr: '10.0.0.0/8' is IPv4"),
                bad(b -> b.ipv4(false).ipv6(false), "ipFamilies: none enabled"),
                bad(b -> b.podLabel("demo client"), "pod: 'demo client'"),
                bad(b -> b.podLabel("x\"; rm"), "pod: 'x\"; rm'"));
    }

    private static Arguments bad(UnaryOperator<RedirectPlan.Builder> change, String message) {
        return Arguments.of(change, message);
    }

    @ParameterizedTest
    @MethodSource("invalid")
    void invalidSettingsNameTheFieldAndValue(UnaryOperator<RedirectPlan.Builder> change, String message) {
        assertThatThrownBy(() -> change.apply(RedirectPlan.builder()).build())
                .isInstanceOf(RulesException.class)
                .hasMessageContaining(message);
    }

    @Test
    void aTproxyPlanChecksItsMarkAndTableAndLeavesTheOutboundPortAlone() {
        RedirectPlan plan = RedirectPlan.builder().capture(CaptureMode.TPROXY).build();
        assertThat(plan.tproxyMark()).isEqualTo(0x53a);
        assertThat(plan.routeTable()).isEqualTo(133);
        assertThat(plan.exemptOutboundPorts()).containsExactly(15001);
        assertThat(RedirectPlan.builder().build().exemptOutboundPorts()).isEmpty();
        assertThatThrownBy(() -> RedirectPlan.builder().capture(CaptureMode.TPROXY).tproxyMark(0x539).build())
                .isInstanceOf(RulesException.class).hasMessageContaining("tproxyMark: 0x539")
                .hasMessageContaining("not the proxy's mark");
        assertThatThrownBy(() -> RedirectPlan.builder().capture(CaptureMode.TPROXY).tproxyMark(0x1000).build())
                .isInstanceOf(RulesException.class).hasMessageContaining("within markMask 0xfff");
        assertThatThrownBy(() -> RedirectPlan.builder().capture(CaptureMode.TPROXY).routeTable(254).build())
                .isInstanceOf(RulesException.class).hasMessageContaining("routeTable: 254");
        assertThatThrownBy(() -> CaptureMode.parse("dnat"))
                .isInstanceOf(RulesException.class).hasMessage("capture: 'dnat' is not one of redirect, tproxy, ebpf");
    }
}
