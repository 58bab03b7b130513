package io.nodemesh.discovery.kubernetes;

import static io.nodemesh.discovery.kubernetes.KubernetesCaptureTest.await;
import static io.nodemesh.discovery.kubernetes.KubernetesCaptureTest.natRules;
import static io.nodemesh.discovery.kubernetes.Resources.namespace;
import static io.nodemesh.discovery.kubernetes.Resources.pod;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.PluginCalls;
import io.nodemesh.proxy.inpod.NetnsScanner;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.telemetry.ConnectionSink;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The race at pod start with the Kubernetes source: the CNI plugin's ADD reaches the proxy before the proxy's watch
 * has seen the pod (the API has it without an address until the kubelet reports one). The ADD waits for the watch,
 * the pod is captured in the handed namespace with the handed address before the answer, the kubelet's later status
 * update changes nothing, and DEL takes it away. The test plays the plugin over the real control socket with a real
 * namespace descriptor; the proxy reads the API mock.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KubernetesHandoffTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String NODE = "node-a";
    /** A /24 of this run only (the scanner looks at every namespace of the machine). */
    private static final String SUBNET;

    static {
        int r = new SecureRandom().nextInt(1 << 12);
        SUBNET = "10." + (240 + (r >> 8)) + "." + (r & 0xff) + ".";
    }

    @TempDir
    Path run;

    @Test
    void anAddBeforeTheInformerSeesThePodWaitsForItAndCapturesInTheHandedNamespace() throws Exception {
        Lan lan = net.lan("node");
        Netns web = lan.attach("web", SUBNET + "2/24");
        Path socket = run.resolve("cni.sock");
        Path enrolment = run.resolve("enrolment.json");
        try (MockApi api = new MockApi()) {
            api.admin.resource(namespace("shop", true)).create();
            KubernetesSource source = api.source(NODE)
                    .netnsFinder(NetnsFinder.scanning(new NetnsScanner())).build();
            try (NodeProxy proxy = NodeProxy.builder().source(source).admin(new InetSocketAddress("127.0.0.1", 0))
                    .adminSocket(run.resolve("admin.sock")).readiness(new InetSocketAddress("127.0.0.1", 0))
                    .transport(TransportKind.EPOLL).removeRulesOnStop(true).sink(ConnectionSink.NONE)
                    .cniSocket(socket).enrolmentFile(enrolment).build()) {
                proxy.start();
                await("the enrolment file", () -> Files.exists(enrolment));
                assertThat(JSON.readTree(enrolment.toFile()).get("enrolledNamespaces").toString())
                        .isEqualTo("[\"shop\"]");

                // The runtime set up the sandbox and calls the plugin; the watch has not seen the pod yet.
                CompletableFuture<JsonNode> added = CompletableFuture.supplyAsync(
                        () -> call(socket, request("ADD", "sandbox-1", web), web), Thread::startVirtualThread);
                Thread.sleep(1_500);
                assertThat(added).as("the ADD waits for the pod").isNotDone();
                assertThat(proxy.pod("shop/web")).isEmpty();

                // The API has the pod, scheduled here, without an address (the kubelet has not reported one).
                Pod pending = new PodBuilder(pod("shop", "web", NODE, null).build()).editStatus().withPhase("Pending")
                        .withPodIP(null).withPodIPs().endStatus().build();
                api.admin.resource(pending).create();
                JsonNode reply = added.get(30, TimeUnit.SECONDS);
                assertThat(reply.get("ok").asBoolean()).as(reply.toString()).isTrue();
                assertThat(reply.get("state").asText()).isEqualTo("captured");

                // In place when answered: listeners in the handed namespace, the handed address, rules in the pod.
                PodCapture capture = proxy.pod("shop/web").orElseThrow();
                assertThat(capture.state()).isEqualTo(PodCapture.State.LISTENING);
                var spec = proxy.snapshot().pods().get("shop/web");
                assertThat(spec.ips()).containsExactly(InetAddress.getByName(SUBNET + "2"));
                assertThat(spec.netns().toString()).as("the descriptor the plugin sent, held by the proxy")
                        .startsWith("/proc/" + ProcessHandle.current().pid() + "/fd/");
                assertThat(natRules(web)).contains("15001").contains("15006");

                // The kubelet reports the address: the same pod, the same capture, nothing redone.
                api.admin.resource(pod("shop", "web", NODE, SUBNET + "2").editMetadata()
                        .withUid(pending.getMetadata().getUid()).endMetadata().build()).update();
                Thread.sleep(2_000); // the watch's event and a debounced rebuild or two
                assertThat(proxy.pod("shop/web")).containsSame(capture);
                assertThat(proxy.captures().states().get("shop/web")).isEqualTo(CaptureState.CAPTURED);

                long asked = System.nanoTime();
                JsonNode del = call(socket, request("DEL", "sandbox-1", null), null);
                assertThat(del.get("ok").asBoolean()).as(del.toString()).isTrue();
                // Answered once the capture is gone, not at the DEL's 10 s deadline.
                assertThat(Duration.ofNanos(System.nanoTime() - asked)).isLessThan(Duration.ofSeconds(5));
                assertThat(del.path("detail").asText()).isEmpty();
                assertThat(proxy.pod("shop/web")).isEmpty();
                assertThat(natRules(web)).doesNotContain("15001");
            }
        }
    }

    private static String request(String command, String containerId, Netns pod) {
        return PluginCalls.request(command, "shop", "web", containerId, pod);
    }

    /** One request as the plugin sends it (with the pod's namespace as a descriptor when {@code pod} is given). */
    private static JsonNode call(Path socket, String json, Netns pod) {
        try {
            return pod == null ? PluginCalls.call(socket, json) : PluginCalls.withNamespace(socket, json, pod);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
