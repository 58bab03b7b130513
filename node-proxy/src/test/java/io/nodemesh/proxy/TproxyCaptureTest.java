package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.uring.IoUring;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.CaptureMode;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code capture: tproxy}: a pod's TCP reaches the transparent capture listeners through nft's {@code tproxy} and a
 * policy route, with no NAT and no connection tracking, and each connection's destination is its accepted socket's own
 * address. The proxy installs the pod's rules itself ({@code rules: nft}).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TproxyCaptureTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void outboundConnectionsReachTheirDestinationThroughTheTransparentListenerAndNothingIsTracked() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        TestNode node = captureByTproxy(a);
        mesh.own(SeededServer.start(b, 8080, 100_000, 300_000, false));

        assertThat(SeededClients.run(a, b.ipv4(), 8080, 3, 100_000, 300_000)).containsOnly("ok").hasSize(3);
        assertThat(SeededClients.run(a, b.ipv6(), 8080, 2, 100_000, 300_000)).containsOnly("ok").hasSize(2);

        await("5 closed", () -> node.closed.size() == 5);
        List<ClosedConnection> v4 = node.closed.stream().filter(c -> c.destination().getAddress().equals(b.ipv4()))
                .toList();
        assertThat(v4).as("IPv4 destinations, as Inet4Address").hasSize(3).allSatisfy(c -> {
            assertThat(c.destination()).isEqualTo(new InetSocketAddress(b.ipv4(), 8080));
            assertThat(c.source().getAddress()).isEqualTo(a.ipv4());
        });
        assertThat(node.closed).allSatisfy(c -> {
            assertThat(c.direction()).isEqualTo(Direction.OUTBOUND);
            assertThat(c.outcome()).isEqualTo(Outcome.OK);
            assertThat(c.bytesFromSource()).isEqualTo(100_000 + 4);
            assertThat(c.bytesToSource()).isEqualTo(300_000);
        });
        assertThat(node.closed).filteredOn(c -> c.destination().equals(new InetSocketAddress(b.ipv6(), 8080)))
                .hasSize(2).allSatisfy(c -> assertThat(c.source().getAddress()).isEqualTo(a.ipv6()));
        assertThat(conntrackCount(a)).as("connections tracked in pod a").isZero();
        assertThat(node.admin("/config_dump")).contains("\"capture\" : \"tproxy\"");
    }

    @Test
    void inboundConnectionsReachThePodsAppThroughTheTransparentListenerWhoseMarkTheirSocketsKeep() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        TestNode node = captureByTproxy(a);
        mesh.own(SeededServer.start(a, 8080, 200_000, 100_000, false));

        assertThat(SeededClients.run(b, a.ipv4(), 8080, 3, 200_000, 100_000)).containsOnly("ok").hasSize(3);
        await("3 closed", () -> node.closed.size() == 3);
        assertThat(node.closed).allSatisfy(c -> {
            assertThat(c.direction()).isEqualTo(Direction.INBOUND);
            assertThat(c.destination()).isEqualTo(new InetSocketAddress(a.ipv4(), 8080));
            assertThat(c.source().getAddress()).isEqualTo(b.ipv4());
            assertThat(c.outcome()).isEqualTo(Outcome.OK);
            assertThat(c.bytesFromSource()).isEqualTo(200_000 + 4);
            assertThat(c.bytesToSource()).isEqualTo(100_000);
        });

        // The accepted socket (a's address and port 8080, b on the other end) carries the listener's mark, so its
        // packets to b pass the pod's output chain as the proxy's own instead of being looped back to :15001.
        EchoServer echo = mesh.own(EchoServer.start(a, 7000));
        SocketChannel held = mesh.own(EchoServer.connect(b, new InetSocketAddress(a.ipv4(), 7000)));
        assertThat(EchoServer.roundTrip(held, "marked")).isEqualTo("marked");
        String sockets = a.execOk("ss", "-Htne", "state", "established", "dst", b.ipv4().getHostAddress()).stdout();
        assertThat(sockets).as("pod a's sockets connected to b:%n%s", sockets).contains(":7000")
                .contains("fwmark:0x539");
        assertThat(echo.accepted()).isEqualTo(1);
        assertThat(conntrackCount(a)).as("connections tracked in pod a").isZero();
    }

    @Test
    void aConnectionToACapturePortItselfIsClosedAndCountedNotRelayed() throws Exception {
        Netns a = mesh.dualStackPod("a");
        Netns b = mesh.dualStackPod("b");
        TestNode node = captureByTproxy(a);
        // Loopback and TCP to :15001 are let through uncaptured: this reaches the outbound listener addressed to it.
        assertThat(readFrom(a, new InetSocketAddress("127.0.0.1", 15001))).isEqualTo(-1);
        // The proxy's ports are exempt inbound: this reaches the inbound listener addressed to it.
        assertThat(readFrom(b, new InetSocketAddress(a.ipv4(), 15006))).isEqualTo(-1);
        PodCapture pod = node.proxy.pod("demo/a").orElseThrow();
        await("counted", () -> pod.notRedirectedCount() == 2);
        assertThat(pod.stats(Direction.OUTBOUND).snapshot().opened()).isZero();
        assertThat(pod.stats(Direction.INBOUND).snapshot().opened()).isZero();
        assertThat(node.closed).isEmpty();
    }

    @Test
    void tproxyNeedsTheEpollTransportAndRulesThatCanInstallItOrTheStartFailsNamingTheCapture() throws Exception {
        MeshFile tproxy = mesh.config().rules("none").captureMode("tproxy");
        assertThatThrownBy(() -> mesh.start(tproxy, x -> x.transport(TransportKind.NIO)))
                .isInstanceOf(ConfigException.class)
                .hasMessage("proxy.capture: tproxy needs the epoll transport; the nio transport's listeners cannot "
                        + "take tproxy connections");
        if (IoUring.isAvailable()) { // else io_uring falls back to epoll, which takes TPROXY connections
            assertThatThrownBy(() -> mesh.start(tproxy, x -> x.transport(TransportKind.IO_URING)))
                    .isInstanceOf(ConfigException.class)
                    .hasMessageContaining("proxy.capture: tproxy needs the epoll transport; the io_uring transport's");
        }
        assertThatThrownBy(() -> mesh.start(mesh.config().rules("iptables").captureMode("tproxy")))
                .isInstanceOf(ConfigException.class)
                .hasMessageEndingWith("proxy.capture: tproxy needs rules nft or none; the iptables backend installs "
                        + "REDIRECT rules only");
        assertThatThrownBy(() -> mesh.start(mesh.config().rules("iptables"),
                x -> x.capture(CaptureMode.TPROXY)))
                .as("tproxy by the builder (the command line's --capture)")
                .isInstanceOf(ConfigException.class)
                .hasMessage("proxy.capture: tproxy needs rules nft or none; the iptables backend installs REDIRECT "
                        + "rules only");
    }

    @Test
    void aChangeToTproxyThatTheTransportCannotHaveIsNotAppliedAndTheCaptureInForceStays() throws Exception {
        TestNode node = mesh.start(mesh.config().rules("none"), x -> x.transport(TransportKind.NIO));
        node.rewrite(mesh.config().rules("none").captureMode("tproxy").drainTimeout("3s"));
        assertThat(node.proxy.lastConfigError()).startsWith("proxy.capture: tproxy needs the epoll transport");
        assertThat(node.proxy.snapshot().proxy().capture()).isEqualTo(CaptureMode.REDIRECT);
        assertThat(node.admin("/stats")).contains("tproxy needs the epoll transport");

        node.rewrite(mesh.config().rules("none").drainTimeout("3s"));
        assertThat(node.proxy.lastConfigError()).isNull();
        assertThat(node.proxy.snapshot().proxy().drainTimeout()).hasSeconds(3);
    }

    /**
     * A proxy on epoll capturing {@code pod} by TPROXY with its own nft rules ({@code rules: nft}): the table, and the
     * policy rule and route of both families, there once the pod is captured.
     */
    private static TestNode captureByTproxy(Netns pod) throws Exception {
        TestNode node = mesh.start(mesh.config().rules("nft").captureMode("tproxy").capture(pod),
                x -> x.transport(TransportKind.EPOLL));
        PodCapture capture = node.proxy.pods().getFirst();
        assertThat(capture.listening()).isTrue();
        assertThat(RedirectRules.plan(capture.spec(), node.proxy.snapshot().proxy()).capture())
                .isEqualTo(CaptureMode.TPROXY);
        assertThat(pod.execOk("nft", "list", "table", "inet", "nodemesh").stdout())
                .contains("tproxy to :15001", "tproxy to :15006");
        for (String family : List.of("-4", "-6")) {
            assertThat(pod.execOk("ip", family, "rule").stdout()).contains("fwmark 0x53a/0xfff lookup 133");
            assertThat(pod.execOk("ip", family, "route", "show", "table", "133").stdout()).contains("local default dev lo");
        }
        return node;
    }

    /** Connects from inside {@code pod} to {@code destination} and reads one byte: -1 when the proxy closes it. */
    static int readFrom(Netns pod, InetSocketAddress destination) throws Exception {
        return pod.call(() -> {
            try (Socket s = new Socket()) {
                s.setSoTimeout(10_000);
                s.connect(destination, 10_000);
                return s.getInputStream().read();
            }
        });
    }

    /** The connections {@code pod}'s namespace tracks: 0 also when it has no conntrack at all. */
    static long conntrackCount(Netns pod) {
        ExecResult count = pod.exec("cat", "/proc/sys/net/netfilter/nf_conntrack_count");
        return count.exitCode() == 0 ? Long.parseLong(count.stdout().strip()) : 0;
    }
}
