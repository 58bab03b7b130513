package io.nodemesh.discovery.kubernetes;

import static io.nodemesh.discovery.kubernetes.Resources.namespace;
import static io.nodemesh.discovery.kubernetes.Resources.pod;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.discovery.Enrolment;
import io.nodemesh.proxy.inpod.NetnsScanner;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.telemetry.ConnectionSink;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.ConnectCapture;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Cgroup;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * End to end on real network namespaces: a node proxy on the Kubernetes source (the API mock) captures two running
 * pods when their namespace gets the label, finding their network namespaces with the real {@link NetnsScanner}, so
 * that their traffic passes through the proxy; and releases them when the label goes, the pods' processes running on
 * throughout. Prints the time from the label change to the first captured connection. A proxy started after the pods
 * of an enrolled namespace ran captures them at start, their namespaces found by the same scan.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KubernetesCaptureTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private static final String NODE = "node-a";

    /** The proxy's admin socket goes here, not to the node's /var/run/nodemesh. */
    @TempDir
    Path run;
    /**
     * A /24 of this run only: the scanner looks at every namespace of the machine, and another test JVM's pod with the
     * same address would make it ambiguous (and not handed out).
     */
    private static final String SUBNET;

    static {
        int r = new SecureRandom().nextInt(1 << 12);
        SUBNET = "10." + (240 + (r >> 8)) + "." + (r & 0xff) + ".";
    }

    @Test
    void labellingTheNamespaceCapturesItsRunningPodsAndRemovingTheLabelReleasesThem() throws Exception {
        Lan lan = net.lan("node");
        Netns client = lan.attach("client", SUBNET + "2/24");
        Netns server = lan.attach("server", SUBNET + "3/24");
        InetSocketAddress app = new InetSocketAddress(SUBNET + "3", 8080);
        try (ServerSocketChannel echo = server.call(() -> ServerSocketChannel.open().bind(new InetSocketAddress(8080)));
             MockApi api = new MockApi()) {
            Thread.ofVirtual().start(() -> echoEach(echo));
            api.admin.resource(namespace("shop", false)).create();
            api.admin.resource(pod("shop", "client", NODE, SUBNET + "2").build()).create();
            api.admin.resource(pod("shop", "server", NODE, SUBNET + "3").build()).create();

            KubernetesSource source = api.source(NODE).settingsFile(shortDrain())
                    .netnsFinder(NetnsFinder.scanning(new NetnsScanner())).build();
            try (NodeProxy proxy = NodeProxy.builder().source(source).admin(new InetSocketAddress("127.0.0.1", 0))
                    .adminSocket(run.resolve("admin.sock")).readiness(new InetSocketAddress("127.0.0.1", 0))
                    .transport(TransportKind.EPOLL).removeRulesOnStop(true).sink(ConnectionSink.NONE).build()) {
                proxy.start();
                assertThat(roundTrip(client, app, "before")).isEqualTo("before");
                assertThat(proxy.pods()).as("nothing captured before the label").isEmpty();

                long labelled = System.nanoTime();
                System.out.println("labelling namespace shop at " + java.time.LocalTime.now());
                label(api, true);
                // Connections keep coming while the proxy catches up; the first one it relays is the measure. One
                // caught while the rules go in may fail (counted and printed); none after that.
                long firstCaptured = 0;
                int reset = 0;
                for (int i = 0; firstCaptured == 0; i++) {
                    try {
                        assertThat(roundTrip(client, app, "try " + i)).isEqualTo("try " + i);
                    } catch (IOException e) {
                        reset++;
                    }
                    if (opened(proxy, "shop/client", Direction.OUTBOUND) > 0) {
                        firstCaptured = System.nanoTime();
                    } else if (System.nanoTime() - labelled > Duration.ofSeconds(30).toNanos()) {
                        throw new AssertionError("not captured 30 s after the label: " + proxy.pods());
                    }
                }
                System.out.printf("namespace label -> first captured connection: %.0f ms (%d connection(s) failed "
                        + "while capture was being set up)%n", (firstCaptured - labelled) / 1e6, reset);
                await("both pods listening", () -> proxy.pods().size() == 2
                        && proxy.pods().stream().allMatch(p -> p.state() == PodCapture.State.LISTENING));
                // Listeners first, rules last: the rules in each pod's namespace are what capture its traffic.
                await("the client's redirect rules", () -> natRules(client).contains("15001"));
                await("the server's redirect rules", () -> natRules(server).contains("15006"));
                assertThat(proxy.pod("shop/server").map(PodCapture::state)).contains(PodCapture.State.LISTENING);
                assertThat(proxy.snapshot().pods().get("shop/client").netns()).isEqualTo(client.path());

                // Through the proxy: out of the client's capture, into the server's.
                long out = opened(proxy, "shop/client", Direction.OUTBOUND);
                long in = opened(proxy, "shop/server", Direction.INBOUND);
                for (int i = 0; i < 10; i++) {
                    assertThat(roundTrip(client, app, "captured " + i)).isEqualTo("captured " + i);
                }
                await("ten more through the proxy", () -> opened(proxy, "shop/client", Direction.OUTBOUND) == out + 10
                        && opened(proxy, "shop/server", Direction.INBOUND) >= in + 10);

                label(api, false);
                await("released", () -> proxy.pods().isEmpty());
                await("the rules removed", () -> !natRules(client).contains("15001")
                        && !natRules(server).contains("15006"));
                long total = proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().opened();
                for (int i = 0; i < 10; i++) {
                    assertThat(roundTrip(client, app, "released " + i)).isEqualTo("released " + i);
                }
                assertThat(proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().opened())
                        .as("no connection through the proxy").isEqualTo(total);
            }
        }
    }

    @Test
    void aProxyStartedAfterThePodsOfAnEnrolledNamespaceRanCapturesThemFoundByTheScan() throws Exception {
        Lan lan = net.lan("node");
        Netns client = lan.attach("client", SUBNET + "2/24");
        Netns server = lan.attach("server", SUBNET + "3/24");
        InetSocketAddress app = new InetSocketAddress(SUBNET + "3", 8080);
        try (ServerSocketChannel echo = server.call(() -> ServerSocketChannel.open().bind(new InetSocketAddress(8080)));
             MockApi api = new MockApi()) {
            Thread.ofVirtual().start(() -> echoEach(echo));
            api.admin.resource(namespace("shop", true)).create();
            api.admin.resource(pod("shop", "client", NODE, SUBNET + "2").build()).create();
            api.admin.resource(pod("shop", "server", NODE, SUBNET + "3").build()).create();
            assertThat(roundTrip(client, app, "before")).isEqualTo("before");

            KubernetesSource source = api.source(NODE).settingsFile(shortDrain())
                    .netnsFinder(NetnsFinder.scanning(new NetnsScanner())).build();
            try (NodeProxy proxy = NodeProxy.builder().source(source).admin(new InetSocketAddress("127.0.0.1", 0))
                    .adminSocket(run.resolve("admin.sock")).readiness(new InetSocketAddress("127.0.0.1", 0))
                    .transport(TransportKind.EPOLL).removeRulesOnStop(true).sink(ConnectionSink.NONE).build()) {
                proxy.start();
                // The first snapshot already has both namespaces, found by their addresses: captured at start.
                assertThat(proxy.snapshot().pods().get("shop/client").netns()).isEqualTo(client.path());
                assertThat(proxy.snapshot().pods().get("shop/server").netns()).isEqualTo(server.path());
                await("both pods listening", () -> proxy.pods().size() == 2
                        && proxy.pods().stream().allMatch(p -> p.state() == PodCapture.State.LISTENING));
                await("the client's redirect rules", () -> natRules(client).contains("15001"));
                for (int i = 0; i < 5; i++) {
                    assertThat(roundTrip(client, app, "captured " + i)).isEqualTo("captured " + i);
                }
                await("five through the proxy", () -> opened(proxy, "shop/client", Direction.OUTBOUND) == 5
                        && opened(proxy, "shop/server", Direction.INBOUND) >= 5);
            }
        }
    }

    @Test
    void anEbpfCaptureFindsThePodsCgroupByItsUidAndSendsItsAppsConnectionsToTheProxy() throws Exception {
        NetnsExtension.requireCgroupV2();
        Lan lan = net.lan("node");
        Netns client = lan.attach("client", SUBNET + "2/24");
        Netns server = lan.attach("server", SUBNET + "3/24");
        // The node's cgroup hierarchy as the kubelet lays it out (systemd driver), under a cgroup of this test's own.
        Cgroup node = net.cgroup("kubelet");
        try (ServerSocketChannel echo = server.call(() -> ServerSocketChannel.open().bind(new InetSocketAddress(8080)));
             MockApi api = new MockApi()) {
            Thread.ofVirtual().start(() -> echoEach(echo));
            api.admin.resource(namespace("shop", true)).create();
            Pod clientPod = api.admin.resource(pod("shop", "client", NODE, SUBNET + "2").build()).create();
            Pod serverPod = api.admin.resource(pod("shop", "server", NODE, SUBNET + "3").build()).create();
            // By the uids the API server has (it makes its own).
            Path podCgroup = Files.createDirectories(node.path().resolve("kubepods.slice/kubepods-burstable.slice")
                    .resolve("kubepods-burstable-pod" + clientPod.getMetadata().getUid().replace('-', '_') + ".slice"));
            Files.createDirectories(node.path().resolve("kubepods.slice/kubepods-besteffort.slice")
                    .resolve("kubepods-besteffort-pod" + serverPod.getMetadata().getUid().replace('-', '_')
                            + ".slice"));

            Path settings = Files.writeString(run.resolve("settings.yaml"),
                    "proxy:\n  drainTimeout: 3s\n  capture: ebpf\n");
            KubernetesSource source = api.source(NODE).settingsFile(settings)
                    .netnsFinder(NetnsFinder.scanning(new NetnsScanner()))
                    .cgroupFinder(CgroupFinder.under(node.path())).build();
            try (NodeProxy proxy = NodeProxy.builder().source(source).admin(new InetSocketAddress("127.0.0.1", 0))
                    .adminSocket(run.resolve("admin.sock")).readiness(new InetSocketAddress("127.0.0.1", 0))
                    .transport(TransportKind.EPOLL).bpffs(NetnsExtension.bpffs()).removeRulesOnStop(true)
                    .sink(ConnectionSink.NONE).build()) {
                proxy.start();
                assertThat(proxy.snapshot().pods().get("shop/client").cgroup()).isEqualTo(podCgroup);
                await("both pods listening", () -> proxy.pods().size() == 2
                        && proxy.pods().stream().allMatch(p -> p.state() == PodCapture.State.LISTENING));
                await("the client's programs", () -> {
                    try (ConnectCapture programs = ConnectCapture.open()) {
                        return programs.attached(podCgroup).size() == 5;
                    }
                });
                // The pod's app: a process in the pod's cgroup (its container's, below it) and namespace.
                Path container = Files.createDirectories(podCgroup.resolve("cri-containerd-app.scope"));
                ExecResult r = Commands.run(Cgroup.command(container, client, "timeout", "5", "bash", "-c",
                        "exec 3<>/dev/tcp/" + SUBNET + "3/8080 && printf 'hello\\n' >&3 && head -c 6 <&3"));
                assertThat(r.exitCode()).as(r.describe()).isZero();
                assertThat(r.stdout().strip()).isEqualTo("hello");
                await("through the proxy", () -> opened(proxy, "shop/client", Direction.OUTBOUND) == 1);
                await("into the server by its sk_lookup program", () -> opened(proxy, "shop/server",
                        Direction.INBOUND) == 1);
                Files.delete(container);
            }
        }
    }

    /** The netfilter rules of {@code pod}'s namespace as nft lists them: the default backend's table (and iptables-nft's). */
    static String natRules(Netns pod) {
        return pod.execOk("nft", "list", "ruleset").stdout();
    }

    private static long opened(NodeProxy proxy, String pod, Direction direction) {
        Optional<PodCapture> capture = proxy.pod(pod);
        return capture.map(p -> p.stats(direction).snapshot().opened()).orElse(0L);
    }

    /**
     * The proxy's settings with a drain of 3 s: a connection that capture's set-up broke (one the client saw reset,
     * counted above) can leave its other leg open, unheard of, until the drain deadline of a release (30 s by default,
     * as long as this test's waits).
     */
    private Path shortDrain() throws IOException {
        return Files.writeString(run.resolve("settings.yaml"), "proxy:\n  drainTimeout: 3s\n");
    }

    private static void label(MockApi api, boolean enrolled) {
        Namespace ns = api.admin.namespaces().withName("shop").get();
        api.admin.resource(new NamespaceBuilder(ns).editMetadata()
                .withLabels(enrolled ? Map.of(Enrolment.KEY, Enrolment.ENABLED) : Map.of()).endMetadata().build())
                .update();
    }

    /** One connection from {@code from} (its socket made there): {@code text} there and back, within 5 s. */
    private static String roundTrip(Netns from, InetSocketAddress to, String text) throws Exception {
        try (SocketChannel channel = from.call(SocketChannel::open)) {
            Socket socket = channel.socket();
            socket.connect(to, 5_000);
            socket.setSoTimeout(5_000);
            socket.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
            byte[] back = socket.getInputStream().readNBytes(text.length());
            return new String(back, StandardCharsets.UTF_8);
        }
    }

    private static void echoEach(ServerSocketChannel listener) {
        while (listener.isOpen()) {
            try {
                SocketChannel ch = listener.accept();
                Thread.ofVirtual().start(() -> {
                    try (ch) {
                        ByteBuffer buf = ByteBuffer.allocate(4096);
                        while (ch.read(buf) >= 0) {
                            ch.write(buf.flip());
                            buf.clear();
                        }
                    } catch (IOException e) {
                        // the client went away
                    }
                });
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Waits up to 30 s for {@code condition}, failing with {@code what}. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }
}
