package io.nodemesh.rules;

import static io.nodemesh.rules.Greeters.greeting;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A {@link CaptureMode#TPROXY} plan with real TCP: pod a (captured) and pod b on one bridge, a's capture listeners
 * transparent and marked as the proxy's are ({@link TransparentListener}), each answering with its name and the
 * destination the client used, which tproxy leaves as it was.
 */
class TproxyTrafficTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private final Greeters greeters = new Greeters();

    @AfterEach
    void closeListeners() throws Exception {
        greeters.close();
    }

    @Test
    void capturesWithoutTranslationOrTrackingAndRemovesEverything() throws Throwable {
        Lan lan = net.lan("node");
        Netns a = lan.attach("a", "10.78.0.2/24", "fd78::2/64");
        Netns b = lan.attach("b", "10.78.0.3/24", "fd78::3/64");
        for (int port : List.of(8080, 9090, 15001)) {
            greeters.listen(b, port, "b:" + port);
        }
        greeters.add(TransparentListener.open(a, 15001, 0x539, "outbound-capture"));
        greeters.add(TransparentListener.open(a, 15006, 0x539, "inbound-capture"));
        greeters.listen(a, 15008, "tunnel");
        greeters.listen(a, 8080, "a:8080");
        InetAddress bV4 = b.ipv4();
        InetAddress bV6 = b.ipv6();
        InetAddress aV4 = a.ipv4();
        InetAddress aV6 = a.ipv6();
        assertThat(greeting(a, bV4, 8080)).as("before apply").isEqualTo("b:8080");

        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.TPROXY).exemptPort(9090)
                .build();
        RuleEngine engine = RuleEngine.nft();
        engine.apply(plan, a.path());
        assertThat(engine.check(plan, a.path()).inSync()).as(engine.check(plan, a.path()).toString()).isTrue();

        assertThat(greeting(a, bV4, 8080)).isEqualTo(TransparentListener.answer("outbound-capture", bV4, 8080));
        assertThat(greeting(a, bV6, 8080)).isEqualTo(TransparentListener.answer("outbound-capture", bV6, 8080));
        assertThat(greeting(a, bV4, 9090)).as("exempt port").isEqualTo("b:9090");
        assertThat(greeting(a, bV4, 15001)).as("the outbound capture port is not captured").isEqualTo("b:15001");
        assertThat(greeting(a, InetAddress.getByName("127.0.0.1"), 8080)).as("loopback").isEqualTo("a:8080");
        assertThat(a.call(() -> MarkedConnection.readGreeting((Inet4Address) bV4, 8080, 0x539)))
                .as("socket carrying the proxy mark").isEqualTo("b:8080");
        assertThat(a.call(() -> MarkedConnection.readGreeting((Inet4Address) bV4, 8080, 0x538)))
                .as("a different mark is captured")
                .isEqualTo(TransparentListener.answer("outbound-capture", bV4, 8080));
        assertThat(greeting(b, aV4, 8080)).as("inbound")
                .isEqualTo(TransparentListener.answer("inbound-capture", aV4, 8080));
        assertThat(greeting(b, aV6, 8080)).as("inbound IPv6")
                .isEqualTo(TransparentListener.answer("inbound-capture", aV6, 8080));
        assertThat(greeting(b, aV4, 15008)).as("tunnel port is never captured").isEqualTo("tunnel");
        assertThat(tracked(a)).as("connections tracked in the captured pod").isZero();

        // A rule someone deleted: check says which, install puts it back and keeps the table.
        a.exec("ip", "rule", "del", "pref", Integer.toString(PolicyRoutes.PRIORITY));
        CheckResult broken = engine.check(plan, a.path());
        assertThat(broken.missing()).containsExactly(
                "policy routing: ipv4 rule pref 32764 fwmark 0x53a/0xfff lookup 133");
        assertThat(engine.install(plan, a.path())).isEqualTo(RuleEngine.Installed.KEPT);
        assertThat(engine.check(plan, a.path()).inSync()).isTrue();
        assertThat(greeting(a, bV6, 8080)).isEqualTo(TransparentListener.answer("outbound-capture", bV6, 8080));

        assertThat(engine.remove(a.path())).isTrue();
        assertThat(a.exec("ip", "rule").stdout() + a.exec("ip", "-6", "rule").stdout()).doesNotContain("lookup 133");
        assertThat(a.exec("ip", "route", "show", "table", "all").stdout()).doesNotContain("table 133");
        assertThat(engine.remove(a.path())).as("nothing left to remove").isFalse();
        assertThat(greeting(a, bV4, 8080)).as("after remove").isEqualTo("b:8080");
        assertThat(greeting(b, aV4, 8080)).as("after remove").isEqualTo("a:8080");
    }

    @Test
    void aRedirectPlanReplacingATproxyOneTakesItsRoutesAway() throws Throwable {
        Netns a = net.lan("node").attach("a", "10.78.0.2/24", "fd78::2/64");
        RuleEngine engine = RuleEngine.nft();
        RedirectPlan tproxy = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.TPROXY).build();
        RedirectPlan redirect = RedirectPlan.builder().podLabel("test/a").build();
        assertThat(engine.install(tproxy, a.path())).isEqualTo(RuleEngine.Installed.APPLIED);
        assertThat(engine.install(tproxy, a.path())).isEqualTo(RuleEngine.Installed.KEPT);
        assertThat(a.exec("ip", "rule").stdout()).contains("lookup 133");

        assertThat(engine.install(redirect, a.path())).isEqualTo(RuleEngine.Installed.REPLACED);
        assertThat(engine.check(redirect, a.path()).inSync()).as(engine.check(redirect, a.path()).toString()).isTrue();
        assertThat(a.exec("ip", "rule").stdout()).doesNotContain("lookup 133");

        assertThat(engine.install(tproxy, a.path())).isEqualTo(RuleEngine.Installed.REPLACED);
        CheckResult other = engine.check(RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.TPROXY)
                .routeTable(134).build(), a.path());
        assertThat(other.missing()).contains("policy routing: ipv4 route local default dev lo table 134");
        assertThat(other.unexpected()).contains("policy routing: ipv4 route local default dev lo table 133");
        assertThat(engine.remove(a.path())).isTrue();
    }

    @Test
    void theIptablesBackendRefusesATproxyPlan() throws Throwable {
        Netns a = net.lan("node").attach("a", "10.78.0.2/24");
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.TPROXY).build();
        assertThatThrownBy(() -> RuleEngine.iptables().apply(plan, a.path()))
                .isInstanceOf(RulesException.class).hasMessageContaining("capture: tproxy needs the nft backend");
        assertThatThrownBy(() -> RuleEngine.iptables().install(plan, a.path()))
                .isInstanceOf(RulesException.class).hasMessageContaining("capture: tproxy needs the nft backend");
        assertThat(a.exec("iptables-save").stdout()).doesNotContain("NODEMESH");
    }

    /** Connections tracked in {@code ns} (0 when connection tracking never started there). */
    static int tracked(Netns ns) throws Exception {
        return ns.call(() -> {
            Path count = Path.of("/proc/sys/net/netfilter/nf_conntrack_count");
            return Files.exists(count) ? Integer.parseInt(Files.readString(count).strip()) : 0;
        });
    }
}
