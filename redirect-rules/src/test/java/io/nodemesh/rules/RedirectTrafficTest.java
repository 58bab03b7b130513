package io.nodemesh.rules;

import static io.nodemesh.rules.Greeters.greeting;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real TCP through applied rules: pod a (the captured pod) and pod b on one bridge. Every
 * listener answers with its own name and closes, so the reply says where a connection landed.
 */
class RedirectTrafficTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private final Greeters greeters = new Greeters();

    @AfterEach
    void closeListeners() throws Exception {
        greeters.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"iptables", "nft"})
    void capturesUnmarkedTcpAndLetsExemptionsThrough(String backend) throws Throwable {
        Lan lan = net.lan("node");
        Netns a = lan.attach("a", "10.77.0.2/24", "fd77::2/64");
        Netns b = lan.attach("b", "10.77.0.3/24", "fd77::3/64");
        for (int port : List.of(8080, 9090)) {
            greeters.listen(b, port, "b:" + port);
        }
        greeters.listen(a, 15001, "outbound-capture");
        greeters.listen(a, 15006, "inbound-capture");
        greeters.listen(a, 15008, "tunnel");
        greeters.listen(a, 8080, "a:8080");
        InetAddress bV4 = b.ipv4();
        InetAddress bV6 = b.ipv6();
        InetAddress aV4 = a.ipv4();

        assertThat(greeting(a, bV4, 8080)).as("before apply").isEqualTo("b:8080");

        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").exemptPort(9090).build();
        RuleEngine engine = RuleEngine.named(backend);
        engine.apply(plan, a.path());

        assertThat(greeting(a, bV4, 8080)).isEqualTo("outbound-capture");
        assertThat(greeting(a, bV6, 8080)).isEqualTo("outbound-capture");
        assertThat(greeting(a, bV4, 9090)).as("exempt port").isEqualTo("b:9090");
        assertThat(greeting(a, InetAddress.getByName("127.0.0.1"), 8080)).as("loopback").isEqualTo("a:8080");
        assertThat(a.call(() -> MarkedConnection.readGreeting((Inet4Address) bV4, 8080, 0x539)))
                .as("socket carrying the proxy mark").isEqualTo("b:8080");
        assertThat(a.call(() -> MarkedConnection.readGreeting((Inet4Address) bV4, 8080, 0x1539)))
                .as("mark bits outside the mask are ignored").isEqualTo("b:8080");
        assertThat(a.call(() -> MarkedConnection.readGreeting((Inet4Address) bV4, 8080, 0x538)))
                .as("a different mark is captured").isEqualTo("outbound-capture");

        assertThat(greeting(b, aV4, 8080)).as("inbound plaintext").isEqualTo("inbound-capture");
        assertThat(greeting(b, aV4, 15008)).as("tunnel port is never redirected").isEqualTo("tunnel");

        assertThat(engine.remove(a.path())).isTrue();
        assertThat(greeting(a, bV4, 8080)).as("after remove").isEqualTo("b:8080");
        assertThat(greeting(b, aV4, 8080)).as("after remove").isEqualTo("a:8080");
    }
}
