package io.nodemesh.rules;

import static io.nodemesh.rules.Greeters.greeting;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Netns;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link LookupCapture} with real TCP: pod a's apps listen on 8080 and 9090; its "proxy" inbound listener on :15006 is
 * a plain socket answering with the address each connection was sent to; b connects to a across a bridge.
 */
class LookupCaptureTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private final Greeters greeters = new Greeters();
    private Netns a;
    private Netns b;
    private Path bpffs;

    @BeforeEach
    void pods() throws Exception {
        bpffs = NetnsExtension.bpffs();
        var lan = net.lan("node");
        a = lan.attach("a", "10.78.0.2/24", "fd78::2/64");
        b = lan.attach("b", "10.78.0.3/24", "fd78::3/64");
        for (int port : List.of(8080, 9090)) {
            greeters.listen(a, port, "a:" + port);
        }
    }

    @AfterEach
    void closeListeners() throws Exception {
        greeters.close();
    }

    @Test
    void handsInboundToTheProxysListenerAndLetsTheRestThrough() throws Exception {
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).exemptInboundPort(9090)
                .build();
        TransparentListener inbound = TransparentListener.plain(a, 15006, "inbound");
        greeters.add(inbound);
        try (LookupCapture capture = LookupCapture.open(bpffs)) {
            assertThat(capture.listen(a.path(), inbound.fd())).as("no program yet").isFalse();
            assertThat(greeting(b, a.ipv4(), 8080)).as("before the program").isEqualTo("a:8080");
            assertThat(capture.install(plan, a.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            assertThat(capture.holds(a.path(), inbound.fd())).isTrue();
            TransparentListener another = TransparentListener.plain(a, 15007, "another");
            greeters.add(another);
            assertThat(capture.holds(a.path(), another.fd())).as("another listener").isFalse();
            assertThat(capture.holds(b.path(), another.fd())).as("a namespace without a program").isFalse();

            assertThat(greeting(b, a.ipv4(), 8080)).isEqualTo(TransparentListener.answer("inbound", a.ipv4(), 8080));
            assertThat(greeting(b, a.ipv6(), 8080)).isEqualTo(TransparentListener.answer("inbound", a.ipv6(), 8080));
            assertThat(greeting(b, a.ipv4(), 9090)).as("exempt port").isEqualTo("a:9090");
            assertThat(greeting(a, a.ipv4(), 8080)).as("the pod's own connection").isEqualTo("a:8080");
            assertThat(greeting(a, a.ipv6(), 8080)).as("the pod's own, IPv6").isEqualTo("a:8080");
            assertThat(greeting(a, InetAddress.ofLiteral("127.0.0.1"), 8080)).as("loopback").isEqualTo("a:8080");
            assertThat(greeting(a, InetAddress.ofLiteral("::1"), 8080)).as("IPv6 loopback").isEqualTo("a:8080");
            assertThat(TproxyTrafficTest.tracked(a)).as("connections tracked").isZero();
            assertThat(a.execOk("nft", "list", "ruleset").stdout()).as("no netfilter rules").doesNotContain("table");

            assertThat(capture.check(plan, a.path()).inSync()).isTrue();
            assertThat(capture.install(plan, a.path())).isEqualTo(RuleEngine.Installed.KEPT);
            RedirectPlan other = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF)
                    .exemptInboundPort(8080).build();
            CheckResult differs = capture.check(other, a.path());
            assertThat(differs.missing()).containsExactly("netns " + a.path() + ": nodemesh_inbnd (the plan's)");
            assertThat(differs.unexpected()).containsExactly("netns " + a.path() + ": nodemesh_inbnd (another plan's)");
            assertThat(capture.install(other, a.path())).isEqualTo(RuleEngine.Installed.REPLACED);
            assertThat(greeting(b, a.ipv4(), 8080)).as("exempt now").isEqualTo("a:8080");
            assertThat(greeting(b, a.ipv4(), 9090)).isEqualTo(TransparentListener.answer("inbound", a.ipv4(), 9090));

            RedirectPlan v4only = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).ipv6(false)
                    .build();
            assertThat(capture.install(v4only, a.path())).isEqualTo(RuleEngine.Installed.REPLACED);
            assertThat(greeting(b, a.ipv6(), 8080)).as("IPv6 not captured").isEqualTo("a:8080");
            assertThat(greeting(b, a.ipv4(), 8080)).isEqualTo(TransparentListener.answer("inbound", a.ipv4(), 8080));

            assertThat(pins()).hasSize(1);
            assertThat(capture.remove(a.path())).isTrue();
            assertThat(pins()).isEmpty();
            assertThat(greeting(b, a.ipv4(), 8080)).as("after remove").isEqualTo("a:8080");
            assertThat(capture.remove(a.path())).as("nothing left to remove").isFalse();
            assertThat(capture.check(plan, a.path()).present()).isFalse();
        }
    }

    @Test
    void refusesWhileNoProxyListensAndARestartedProxyTakesOver() throws Exception {
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).build();
        TransparentListener first = TransparentListener.plain(a, 15006, "first");
        try (LookupCapture capture = LookupCapture.open(bpffs)) {
            capture.listen(a.path(), first.fd());
            assertThat(capture.install(plan, a.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            assertThat(greeting(b, a.ipv4(), 8080)).isEqualTo(TransparentListener.answer("first", a.ipv4(), 8080));
        }
        first.close(); // the proxy is gone; its program stays, pinned
        assertThatThrownBy(() -> greeting(b, a.ipv4(), 8080)).as("fail closed: not the app around the proxy")
                .hasMessageContaining("Connection refused");
        assertThatThrownBy(() -> greeting(b, a.ipv6(), 8080)).hasMessageContaining("Connection refused");

        TransparentListener second = TransparentListener.plain(a, 15006, "second");
        greeters.add(second);
        try (LookupCapture capture = LookupCapture.open(bpffs)) {
            assertThat(capture.listen(a.path(), second.fd())).as("the pinned program found").isTrue();
            assertThat(greeting(b, a.ipv4(), 8080)).isEqualTo(TransparentListener.answer("second", a.ipv4(), 8080));
            assertThat(capture.install(plan, a.path())).isEqualTo(RuleEngine.Installed.KEPT);
        }
        // Uninstalling by hand (README): the pin is the program's last reference, and with it goes the capture.
        for (Path pin : pins()) {
            Files.delete(pin);
        }
        assertThat(greeting(b, a.ipv4(), 8080)).as("the pin removed").isEqualTo("a:8080");
    }

    @Test
    void aPinWhoseNamespaceIsGoneIsSweptAndABadFilesystemIsNamed() throws Exception {
        // Made here, not by the extension, which holds a descriptor of its namespaces (they would live on).
        String gone = NetnsExtension.PREFIX + "gone";
        Path gonePath = Path.of("/var/run/netns", gone);
        Commands.run("ip", "netns", "add", gone).requireOk();
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/gone").capture(CaptureMode.EBPF).build();
        try (LookupCapture capture = LookupCapture.open(bpffs)) {
            assertThat(capture.install(plan, gonePath)).isEqualTo(RuleEngine.Installed.APPLIED);
            assertThat(capture.install(plan, a.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            assertThat(pins()).hasSize(2);
            Commands.run("ip", "netns", "del", gone).requireOk();
            long deadline = System.nanoTime() + 10_000_000_000L; // the kernel frees a namespace in the background
            int swept = 0;
            while (pins().size() > 1 && System.nanoTime() < deadline) {
                swept += capture.sweep();
                Thread.sleep(50);
            }
            assertThat(pins()).hasSize(1);
            assertThat(swept).as("swept here, not by the sweep that started with the capture").isEqualTo(1);

            // A pod released after its namespace went: the pin of the link this capture saw there is removed.
            Commands.run("ip", "netns", "add", gone).requireOk();
            assertThat(capture.install(plan, gonePath)).isEqualTo(RuleEngine.Installed.APPLIED);
            Commands.run("ip", "netns", "del", gone).requireOk();
            assertThat(capture.remove(gonePath)).isTrue();
            assertThat(pins()).hasSize(1);
            assertThat(capture.remove(gonePath)).isFalse();
            assertThat(capture.remove(a.path())).isTrue();
        } finally {
            Commands.run("ip", "netns", "del", gone);
        }
        Path notBpf = Files.createTempDirectory("nodemesh-not-bpffs");
        try (LookupCapture capture = LookupCapture.open(notBpf)) {
            assertThatThrownBy(() -> capture.install(plan, a.path())).isInstanceOf(RulesException.class)
                    .hasMessageContaining(notBpf + " is not one").hasMessageContaining("mount -t bpf bpf " + notBpf);
        } finally {
            Files.delete(notBpf);
        }
    }

    private List<Path> pins() throws Exception {
        try (var files = Files.list(bpffs.resolve("nodemesh"))) {
            return files.toList();
        }
    }
}
