package io.nodemesh.rules;

import static io.nodemesh.rules.Greeters.greeting;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Cgroup;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link ConnectCapture} with real TCP: pod a's processes run in a cgroup of their own (as a pod's containers do),
 * its connections are sent by the programs to a's "proxy" listeners on loopback :15001, which answer with the
 * original destination they look up in the peer map; pods b and c answer with their names.
 */
class ConnectCaptureTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private final Greeters greeters = new Greeters();
    private Netns a;
    private Netns b;
    private Netns c;
    private Cgroup pod;

    @BeforeEach
    void pods() throws Exception {
        NetnsExtension.requireCgroupV2();
        var lan = net.lan("node");
        a = lan.attach("a", "10.79.0.2/24", "fd79::2/64");
        b = lan.attach("b", "10.79.0.3/24", "fd79::3/64");
        c = lan.attach("c", "10.79.0.4/24", "fd79::4/64");
        for (int port : List.of(8080, 9090)) {
            greeters.listen(b, port, "b:" + port);
        }
        greeters.listen(c, 8080, "c:8080");
        greeters.listen(a, 8080, "a:8080");
        pod = net.cgroup("pod-a");
    }

    @AfterEach
    void closeListeners() throws Exception {
        greeters.close();
    }

    @Test
    void sendsThePodsConnectionsToTheProxyAndKeepsWhereTheyWereGoing() throws Exception {
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).exemptPort(9090)
                .exemptCidr("10.79.0.4/32").exemptCidr("fd79::4/128").build();
        try (ConnectCapture capture = ConnectCapture.open()) {
            assertThat(capture.install(plan, pod.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            proxy(capture);
            assertThat(capture.attached(pod.path())).containsExactly("nodemesh_sockop", "nodemesh_conn4",
                    "nodemesh_conn6", "nodemesh_peer4", "nodemesh_peer6");

            assertThat(fromPod("10.79.0.3", 8080)).isEqualTo("captured /10.79.0.3:8080");
            assertThat(fromPod("fd79::3", 8080)).isEqualTo("captured /[fd79:0:0:0:0:0:0:3]:8080");
            assertThat(fromPod("::ffff:10.79.0.3", 8080)).as("IPv4-mapped, as a dual-stack socket connects")
                    .isEqualTo("captured /10.79.0.3:8080");
            assertThat(fromPod("10.79.0.3", 9090)).as("exempt port").isEqualTo("b:9090");
            assertThat(fromPod("10.79.0.4", 8080)).as("exempt network").isEqualTo("c:8080");
            assertThat(fromPod("fd79::4", 8080)).as("exempt IPv6 network").isEqualTo("c:8080");
            assertThat(fromPod("::ffff:10.79.0.4", 8080)).as("exempt network, IPv4-mapped").isEqualTo("c:8080");
            assertThat(fromPod("127.0.0.1", 8080)).as("loopback").isEqualTo("a:8080");
            assertThat(fromPod("::1", 8080)).as("IPv6 loopback").isEqualTo("a:8080");
            assertThat(run(a.exec("timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/10.79.0.3/8080 && cat <&3")))
                    .as("a process of the namespace outside the pod's cgroup (the proxy's)").isEqualTo("b:8080");
            assertThat(greeting(a, b.ipv4(), 8080)).as("the test's own thread in a").isEqualTo("b:8080");
            assertThat(peerFromPod("10.79.0.3", 8080)).as("getpeername: the destination asked for, not :15001")
                    .isEqualTo("10.79.0.3 8080");
            assertThat(peerFromPod("fd79::3", 8080)).isEqualTo("fd79::3 8080");
            assertThat(peerFromPod("::ffff:10.79.0.3", 8080)).isEqualTo("::ffff:10.79.0.3 8080");
            assertThat(peerFromPod("127.0.0.1", 8080)).as("an uncaptured peer as it is").isEqualTo("127.0.0.1 8080");

            assertThat(capture.install(plan, pod.path())).isEqualTo(RuleEngine.Installed.KEPT);
            assertThat(capture.remove(pod.path())).isTrue();
            assertThat(capture.attached(pod.path())).isEmpty();
            assertThat(fromPod("10.79.0.3", 8080)).as("after remove").isEqualTo("b:8080");
            assertThat(capture.remove(pod.path())).as("nothing left to remove").isFalse();
        }
    }

    @Test
    void theWholeCaptureIsProgramsOnlyAndTakesTheRulesOfAnEarlierCaptureOut() throws Exception {
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).build();
        RuleEngine engine = RuleEngine.nft();
        engine.apply(RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.TPROXY).build(), a.path());
        TransparentListener inbound = TransparentListener.plain(a, 15006, "inbound-capture");
        greeters.add(inbound);
        try (ConnectCapture capture = ConnectCapture.open(NetnsExtension.bpffs())) {
            assertThat(capture.install(plan, pod.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            capture.inbound().listen(a.path(), inbound.fd());
            assertThat(capture.inbound().install(plan, a.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            assertThat(engine.install(plan, a.path())).as("the tproxy capture's table and routes taken out")
                    .isEqualTo(RuleEngine.Installed.REPLACED);
            assertThat(engine.install(plan, a.path())).isEqualTo(RuleEngine.Installed.KEPT);
            proxy(capture);
            CheckResult check = engine.check(plan, a.path()).and(capture.check(plan, pod.path()))
                    .and(capture.inbound().check(plan, a.path()));
            assertThat(check.inSync()).as(check.toString()).isTrue();
            assertThat(a.execOk("nft", "list", "ruleset").stdout()).doesNotContain("table");
            assertThat(a.exec("ip", "rule").stdout()).doesNotContain("lookup 133");

            assertThat(fromPod("10.79.0.3", 8080)).isEqualTo("captured /10.79.0.3:8080");
            assertThat(greeting(b, a.ipv4(), 8080)).as("inbound")
                    .isEqualTo(TransparentListener.answer("inbound-capture", a.ipv4(), 8080));
            assertThat(greeting(b, a.ipv6(), 8080)).as("inbound IPv6")
                    .isEqualTo(TransparentListener.answer("inbound-capture", a.ipv6(), 8080));
            assertThat(TproxyTrafficTest.tracked(a)).as("connections tracked in the captured pod").isZero();

            CheckResult other = capture.check(RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF)
                    .exemptPort(22).build(), pod.path());
            assertThat(other.missing()).contains("cgroup " + pod.path() + ": nodemesh_conn4 (the plan's)");
            assertThat(other.unexpected()).contains("cgroup " + pod.path() + ": nodemesh_conn4 (another plan's)");
            assertThat(engine.remove(a.path())).isFalse();
            assertThat(capture.remove(pod.path())).isTrue();
            assertThat(capture.inbound().remove(a.path())).isTrue();
            assertThat(capture.check(plan, pod.path()).present()).isFalse();
        }
    }

    @Test
    void aRestartedProxyAdoptsItsPredecessorsMapsAndKeepsEqualPrograms() throws Exception {
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).build();
        int peerMap;
        try (ConnectCapture first = ConnectCapture.open()) {
            assertThat(first.install(plan, pod.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            peerMap = first.peerMapId();
        }
        // The first "proxy" is gone; its programs and maps stay, and connections are still sent to :15001.
        try (ConnectCapture second = ConnectCapture.open()) {
            // Before it installs anything, as a proxy taking over does before its listeners accept.
            second.adopt(pod.path());
            assertThat(second.peerMapId()).isEqualTo(peerMap);
            proxy(second);
            assertThat(fromPod("10.79.0.3", 9090)).isEqualTo("captured /10.79.0.3:9090");
            assertThat(second.install(plan, pod.path())).isEqualTo(RuleEngine.Installed.KEPT);
            assertThat(second.peerMapId()).isEqualTo(peerMap);
            assertThat(fromPod("10.79.0.3", 8080)).isEqualTo("captured /10.79.0.3:8080");

            RedirectPlan other = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).exemptPort(8080)
                    .build();
            assertThat(second.install(other, pod.path())).isEqualTo(RuleEngine.Installed.REPLACED);
            assertThat(second.attached(pod.path())).as("replaced in place, not added")
                    .containsExactly("nodemesh_sockop", "nodemesh_conn4", "nodemesh_conn6", "nodemesh_peer4",
                            "nodemesh_peer6");
            assertThat(fromPod("10.79.0.3", 8080)).isEqualTo("b:8080");
            assertThat(fromPod("10.79.0.3", 9090)).isEqualTo("captured /10.79.0.3:9090");

            RedirectPlan v6only = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF)
                    .ipv4(false).build();
            assertThat(second.install(v6only, pod.path())).isEqualTo(RuleEngine.Installed.REPLACED);
            assertThat(second.attached(pod.path())).containsExactly("nodemesh_sockop", "nodemesh_conn6",
                    "nodemesh_peer6");
            assertThat(fromPod("10.79.0.3", 8080)).as("IPv4 not captured").isEqualTo("b:8080");
            assertThat(fromPod("::ffff:10.79.0.3", 8080)).as("nor IPv4-mapped").isEqualTo("b:8080");
            assertThat(fromPod("fd79::3", 8080)).isEqualTo("captured /[fd79:0:0:0:0:0:0:3]:8080");
            assertThat(second.remove(pod.path())).isTrue();
        }
    }

    @Test
    void aCgroupThatIsNotThereIsNamed() {
        RedirectPlan plan = RedirectPlan.builder().podLabel("test/a").capture(CaptureMode.EBPF).build();
        Path missing = pod.path().resolveSibling(pod.name() + "-missing");
        try (ConnectCapture capture = ConnectCapture.open()) {
            assertThatThrownBy(() -> capture.install(plan, missing)).isInstanceOf(RulesException.class)
                    .hasMessageContaining("cgroup " + missing).hasMessageContaining("No such file");
        }
    }

    /** a's capture listeners on loopback :15001, answering with what the peer map says. */
    private void proxy(ConnectCapture capture) throws Exception {
        long cookie;
        try (NetworkNamespace ns = NetworkNamespace.open(a.path())) {
            cookie = ns.cookie();
        }
        for (String host : List.of("127.0.0.1", "::1")) {
            ServerSocket server = a.call(() -> {
                ServerSocket s = new ServerSocket();
                s.setReuseAddress(true);
                s.bind(new InetSocketAddress(InetAddress.getByName(host), RedirectPlan.DEFAULT_OUTBOUND_PORT));
                return s;
            });
            greeters.add(server);
            Thread.ofVirtual().start(() -> {
                while (!server.isClosed()) {
                    try (Socket accepted = server.accept(); OutputStream out = accepted.getOutputStream()) {
                        InetSocketAddress origin = capture.originalDestination(cookie,
                                (InetSocketAddress) accepted.getRemoteSocketAddress());
                        out.write(("captured " + origin).getBytes(StandardCharsets.UTF_8));
                    } catch (IOException e) {
                        // closed at the end of the test
                    }
                }
            });
        }
    }

    /** What a connection from a process in pod a's cgroup and namespace to {@code host}:{@code port} is answered. */
    private String fromPod(String host, int port) {
        return run(pod.exec(a, "timeout", "5", "bash", "-c", "exec 3<>/dev/tcp/" + host + "/" + port + " && cat <&3"));
    }

    /**
     * What {@code getpeername} tells a process in pod a's cgroup and namespace connected to {@code host}:{@code port}
     * ({@code HOST PORT}, numeric), by Perl's Socket (perl-base is in every Debian system).
     */
    private String peerFromPod(String host, int port) {
        String script = "use Socket qw(:addrinfo SOCK_STREAM); my ($e, @a) = getaddrinfo($ARGV[0], $ARGV[1], "
                + "{socktype => SOCK_STREAM}); die $e if $e; socket(my $s, $a[0]{family}, SOCK_STREAM, 0) or die $!; "
                + "connect($s, $a[0]{addr}) or die \"connect: $!\"; my ($f, $h, $p) = getnameinfo(getpeername($s), "
                + "NI_NUMERICHOST | NI_NUMERICSERV); die $f if $f; print \"$h $p\";";
        return run(pod.exec(a, "timeout", "5", "perl", "-e", script, host, Integer.toString(port)));
    }

    private static String run(ExecResult r) {
        assertThat(r.exitCode()).as(r.describe()).isZero();
        return r.stdout();
    }
}
