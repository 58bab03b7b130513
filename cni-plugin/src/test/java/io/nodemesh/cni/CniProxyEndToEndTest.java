package io.nodemesh.cni;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.RedirectPlan;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.testing.cni.CniRuntime;
import io.nodemesh.testing.cni.CniRuntime.Attachment;
import io.nodemesh.testing.cni.CniRuntime.Outcome;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin and the real proxy together, called as a container runtime calls them: Debian's bridge + host-local,
 * then nodemesh-cni (a JVM per call), against a {@link NodeProxy} whose standalone file enrols namespace
 * {@code shop} and lists its pods with {@code netns: cni}. A pod is captured in the namespace the plugin handed over
 * before the ADD returns; DEL takes rules, listeners and the address away; a proxy that is down fails the ADD with
 * nothing half-applied, and the retried ADD succeeds once it is back; 50 pods added and deleted leave nothing behind.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class CniProxyEndToEndTest {

    @RegisterExtension
    final NetnsExtension net = new NetnsExtension();

    @TempDir
    Path dir;

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int PODS = 50;
    private Netns node;
    private Path bin;
    private String bridge;
    private String subnet;
    private InetAddress gateway;
    private final Queue<ClosedConnection> closed = new ConcurrentLinkedQueue<>();
    private NodeProxy proxy;

    @BeforeEach
    void node() {
        node = net.namespace("node");
        bin = PluginProcess.binDir(dir);
        bridge = "nmb" + Integer.toHexString(RANDOM.nextInt(0x100000, 0x1000000));
        int b = 200 + RANDOM.nextInt(56);
        int c = RANDOM.nextInt(256);
        subnet = "10." + b + "." + c + ".0/24";
        gateway = InetAddress.ofLiteral("10." + b + "." + c + ".1");
    }

    @AfterEach
    void stop() {
        if (proxy != null) {
            proxy.close();
        }
    }

    private Path socket() {
        return dir.resolve("run/cni.sock");
    }

    private NodeProxy startProxy() throws Exception {
        StringBuilder pods = new StringBuilder();
        for (int i = 0; i <= PODS; i++) {
            pods.append("  - {name: pod-").append(i).append(", namespace: shop, serviceAccount: app, netns: cni}\n");
        }
        Path file = Files.writeString(dir.resolve("mesh.yaml"), """
                proxy:
                  rules: iptables
                  workers: 1
                  drainTimeout: 2s
                namespaces:
                  - name: shop
                    labels: {nodemesh.io/capture: enabled}
                  - name: books
                    labels: {}
                pods:
                """ + pods);
        NodeProxy p = NodeProxy.builder().configFile(file)
                .admin(new InetSocketAddress("127.0.0.1", 0))
                .adminSocket(dir.resolve("admin.sock"))
                .readiness(new InetSocketAddress("127.0.0.1", 0))
                .transport(TransportKind.EPOLL)
                .sink(closed::add)
                .cniSocket(socket())
                .enrolmentFile(dir.resolve("run/enrolment.json"))
                .build();
        p.start();
        return p;
    }

    private CniRuntime runtime() {
        String conflist = "{\"cniVersion\":\"1.0.0\",\"name\":\"nodemesh-e2e\",\"plugins\":[{\"type\":\"bridge\","
                + "\"bridge\":\"" + bridge + "\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\""
                + subnet + "\",\"dataDir\":\"" + dir.resolve("host-local") + "\"}},{\"type\":\"nodemesh-cni\","
                + "\"controlSocket\":\"" + socket() + "\",\"enrolmentFile\":\"" + dir.resolve("run/enrolment.json")
                + "\",\"stateDir\":\"" + dir.resolve("state") + "\"}]}";
        return new CniRuntime(conflist.getBytes(UTF_8), List.of(Path.of("/usr/lib/cni"), bin))
                .launchedWith(List.of("nsenter", "--net=" + node.path(), "--"))
                .timeout(Duration.ofSeconds(60));
    }

    private Attachment pod(String namespace, int n) {
        Netns pod = net.namespace("p" + n);
        CniRuntime loopback = new CniRuntime("{\"cniVersion\":\"1.0.0\",\"name\":\"lo\",\"plugins\":[{\"type\":\"loopback\"}]}"
                .getBytes(UTF_8), List.of(Path.of("/usr/lib/cni")));
        String id = "c" + Integer.toHexString(RANDOM.nextInt()) + "-" + n;
        CniRuntime.Pod who = new CniRuntime.Pod(namespace, "pod-" + n, UUID.randomUUID().toString());
        assertThat(loopback.add(new Attachment(id, pod.path(), "lo", who)).ok()).isTrue();
        return new Attachment(id, pod.path(), "eth0", who);
    }

    private static void assertOk(Outcome outcome) {
        assertThat(outcome.ok()).as("%s: code %s, %s: %s; stderr: %s", outcome.last().type(), outcome.code(),
                outcome.msg(), outcome.details(), outcome.last().stderr()).isTrue();
    }

    private boolean reserved(String address) {
        return Files.exists(dir.resolve("host-local/nodemesh-e2e").resolve(address));
    }

    @SuppressWarnings("unchecked")
    private static String address(Outcome add) throws Exception {
        Map<String, Object> result = Json.parseObject(add.result());
        String cidr = (String) ((Map<String, Object>) ((List<Object>) result.get("ips")).getFirst()).get("address");
        return cidr.substring(0, cidr.indexOf('/'));
    }

    private RedirectPlan plan(String key) {
        PodSpec spec = proxy.snapshot().pods().get(key);
        return RedirectRules.plan(spec, proxy.snapshot().proxy());
    }

    @Test
    void anEnrolledPodIsCapturedBeforeItsAddReturnsAndDelTakesEverythingAway() throws Exception {
        proxy = startProxy();
        CniRuntime runtime = runtime();
        Attachment pod = pod("shop", 0);

        Outcome add = runtime.add(pod);

        assertOk(add);
        // The result is the bridge's, unchanged; the pod is captured in the namespace the plugin handed over.
        assertThat(Json.parseObject(add.result())).isEqualTo(Json.parseObject(add.runs().getFirst().stdout()));
        String ip = address(add);
        assertThat(proxy.captures().states().get("shop/pod-0")).isEqualTo(CaptureState.CAPTURED);
        assertThat(proxy.snapshot().pods().get("shop/pod-0").ips()).containsExactly(InetAddress.ofLiteral(ip));
        RedirectPlan plan = plan("shop/pod-0");
        assertThat(RuleEngine.iptables().check(plan, pod.netns()).inSync()).isTrue();
        // Its first connection (to a server on the node's bridge) goes through the proxy.
        try (NetworkNamespace nodeNs = NetworkNamespace.open(node.path());
             NetworkNamespace podNs = NetworkNamespace.open(pod.netns());
             ServerSocket server = nodeNs.call(() -> new ServerSocket(0, 5, gateway))) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = server.accept()) {
                    s.getOutputStream().write(s.getInputStream().readNBytes(5));
                } catch (IOException ignored) {
                    // the assertion below says what went wrong
                }
            });
            // Connected inside the call: a java.net.Socket makes its descriptor only when it connects.
            try (Socket client = podNs.call(() -> {
                Socket s = new Socket();
                s.connect(new InetSocketAddress(gateway, server.getLocalPort()), 5_000);
                return s;
            })) {
                client.getOutputStream().write("hello".getBytes(UTF_8));
                assertThat(new String(client.getInputStream().readNBytes(5), UTF_8)).isEqualTo("hello");
            }
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (closed.stream().noneMatch(c -> c.podName().equals("pod-0")) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(closed).anySatisfy(c -> assertThat(c.podName()).isEqualTo("pod-0"));
        assertThat(Json.parseObject(Files.readAllBytes(dir.resolve("state/cni-last-ADD.json"))))
                .containsEntry("result", "captured");

        assertOk(runtime.check(pod));
        assertOk(runtime.del(pod));

        assertThat(RuleEngine.iptables().check(plan, pod.netns()).present()).isFalse();
        assertThat(proxy.pods()).isEmpty();
        assertThat(reserved(ip)).isFalse();
        assertOk(runtime.del(pod)); // twice: nothing to release
    }

    @Test
    void aProxyThatIsDownFailsTheAddWithNothingAppliedAndTheRetrySucceeds() throws Exception {
        // The proxy has published enrolment before and is away now (a restart): the enrolled pod must wait.
        proxy = startProxy();
        proxy.close();
        proxy = null;
        assertThat(Files.exists(dir.resolve("run/enrolment.json"))).isTrue();
        CniRuntime runtime = runtime();
        Attachment pod = pod("shop", 1);

        Outcome failed = runtime.add(pod);

        assertThat(failed.ok()).isFalse();
        assertThat(failed.code()).isEqualTo(11);
        assertThat(failed.msg()).contains("not reachable");
        String ip = address(new Outcome(true, failed.runs().getFirst().stdout(), 0, "", "", List.of()));
        assertOk(runtime.del(pod)); // what the runtime does after a failed ADD
        assertThat(reserved(ip)).isFalse();
        assertThat(Commands.run("nsenter", "--net=" + pod.netns(), "iptables-save").stdout()).doesNotContain("NODEMESH");

        // A pod of a namespace that is not enrolled starts while the proxy is down.
        Attachment other = pod("books", 2);
        assertOk(runtime.add(other));
        assertOk(runtime.del(other));

        proxy = startProxy();
        Outcome retried = runtime.add(pod);
        assertOk(retried);
        assertThat(proxy.captures().states().get("shop/pod-1")).isEqualTo(CaptureState.CAPTURED);
        assertOk(runtime.del(pod));
    }

    @Test
    void fiftyPodsAddedAndDeletedLeaveNoRulesListenersDescriptorsOrAddresses() throws Exception {
        proxy = startProxy();
        CniRuntime runtime = runtime();
        long descriptors = namespaceDescriptors();
        List<String> leftovers = new ArrayList<>();
        for (int n = 1; n <= PODS; n++) {
            Attachment pod = pod("shop", n);
            Outcome add = runtime.add(pod);
            assertOk(add);
            String ip = address(add);
            RedirectPlan plan = plan("shop/pod-" + n);
            assertThat(RuleEngine.iptables().check(plan, pod.netns()).inSync()).isTrue();
            assertOk(runtime.del(pod));
            if (RuleEngine.iptables().check(plan, pod.netns()).present()) {
                leftovers.add("rules in pod-" + n);
            }
            if (reserved(ip)) {
                leftovers.add("address " + ip);
            }
        }
        assertThat(leftovers).isEmpty();
        assertThat(proxy.pods()).isEmpty();
        try (var held = Files.list(dir.resolve("host-local/nodemesh-e2e"))) {
            assertThat(held.map(p -> p.getFileName().toString()).filter(f -> f.matches("[0-9.]+"))).isEmpty();
        }
        // Every namespace descriptor the proxy was handed is closed again (50 would be left if not). A request thread's
        // handle on its own namespace (NetworkNamespace's way back) goes when the thread is collected: hence the GC
        // and the small allowance.
        System.gc();
        Thread.sleep(500);
        assertThat(namespaceDescriptors()).as("descriptors now: %s", descriptorTargets())
                .isLessThanOrEqualTo(descriptors + 5);
    }

    private static Map<String, Long> descriptorTargets() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.map(p -> {
                try {
                    return Files.readSymbolicLink(p).toString().replaceAll("[0-9]+", "N");
                } catch (IOException e) {
                    return "gone";
                }
            }).collect(java.util.stream.Collectors.groupingBy(t -> t, java.util.stream.Collectors.counting()));
        }
    }

    /** Descriptors on network namespaces the test did not open by path ({@code net:[inode]}: received ones). */
    private static long namespaceDescriptors() throws IOException {
        return descriptorTargets().getOrDefault("net:[N]", 0L);
    }
}
