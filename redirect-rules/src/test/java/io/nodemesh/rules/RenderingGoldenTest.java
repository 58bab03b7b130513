package io.nodemesh.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Pins the exact rendered text of a few plans. The goldens were checked against real
 * iptables-save / nft list output by {@link RoundTripTest}; regenerate deliberately with
 * {@code -Dnodemesh.golden.update=true} and review the diff.
 */
class RenderingGoldenTest {

    static RedirectPlan defaults() {
        return RedirectPlan.builder().podLabel("demo/client").build();
    }

    static RedirectPlan everything() {
        return RedirectPlan.builder()
                .podLabel("demo/server-7f9c")
                .mark("0x100/0xf00")
                .outboundPort(16001)
                .inboundPort(16006)
                .exemptPort(9090).exemptPort(22).exemptPort(22)
                .exemptInboundPort(8081)
                .exemptCidr("10.96.0.0/12")
                .exemptCidr("fd00:10::/64")
                .exemptCidr("192.168.1.10")
                .exemptCidr("2001:DB8:0:0:0:0:0:1")
                .build();
    }

    static RedirectPlan ipv4Only() {
        return RedirectPlan.builder().ipv6(false).mark("0x539/0xffffffff").exemptCidr("10.0.0.0/8").build();
    }

    @Test
    void defaultPlanIptables() throws IOException {
        assertGolden("defaults.iptables", IptablesRenderer.render(defaults(), IpFamily.IPV4));
    }

    @Test
    void defaultPlanIp6tables() throws IOException {
        assertGolden("defaults.ip6tables", IptablesRenderer.render(defaults(), IpFamily.IPV6));
    }

    @Test
    void defaultPlanNft() throws IOException {
        assertGolden("defaults.nft", NftRenderer.render(defaults()));
    }

    @Test
    void fullPlanIptables() throws IOException {
        assertGolden("everything.iptables", IptablesRenderer.render(everything(), IpFamily.IPV4));
    }

    @Test
    void fullPlanIp6tables() throws IOException {
        assertGolden("everything.ip6tables", IptablesRenderer.render(everything(), IpFamily.IPV6));
    }

    @Test
    void fullPlanNft() throws IOException {
        assertGolden("everything.nft", NftRenderer.render(everything()));
    }

    @Test
    void ipv4OnlyPlanIptables() throws IOException {
        assertGolden("ipv4-only.iptables", IptablesRenderer.render(ipv4Only(), IpFamily.IPV4));
    }

    @Test
    void ipv4OnlyPlanNft() throws IOException {
        assertGolden("ipv4-only.nft", NftRenderer.render(ipv4Only()));
    }

    @Test
    void renderingIsDeterministic() {
        assertThat(NftRenderer.render(everything())).isEqualTo(NftRenderer.render(everything()));
        assertThat(IptablesRenderer.render(everything(), IpFamily.IPV6))
                .isEqualTo(IptablesRenderer.render(everything(), IpFamily.IPV6));
    }

    private static void assertGolden(String name, String actual) throws IOException {
        Path source = Path.of("src/test/resources/golden", name);
        if (Boolean.getBoolean("nodemesh.golden.update")) {
            Files.writeString(source, actual, StandardCharsets.UTF_8);
        }
        try (var in = RenderingGoldenTest.class.getResourceAsStream("/golden/" + name)) {
            assertThat(in).as("golden file %s", name).isNotNull();
            String expected = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (!Boolean.getBoolean("nodemesh.golden.update")) {
                assertThat(actual).as("rendering of %s", name).isEqualTo(expected);
            }
        }
    }
}
