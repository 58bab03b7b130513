package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.redirect.PodRules;
import io.nodemesh.proxy.telemetry.ReporterConfig;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.topology.Netns;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Each pod's capture state and the capture failures by reason, from the proxy to the node's Prometheus scrape: a real
 * proxy reporting to a real agent over its Unix socket, pods whose capture succeeds and pods whose capture fails for
 * each reason a node can produce on its own (no namespace, a path that is no namespace, the capture port taken), and
 * one whose rules cannot be installed.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class CaptureStateTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static final String GHOST = """
              - name: ghost
                namespace: demo
                netns: /var/run/netns/nmt-no-such-pod
            """;

    @Test
    void capturedFailedAndReleasedPodsShowInTheNodesScrape() throws Exception {
        Netns a = mesh.pod("a");
        Netns busy = mesh.pod("busy");
        // The outbound capture port is taken inside busy's namespace: its listener cannot open.
        mesh.own(busy.call(() -> new ServerSocket(15001, 50, InetAddress.ofLiteral("0.0.0.0"))));
        Path notANamespace = Files.writeString(mesh.dir().resolve("not-a-netns"), "");
        String bogus = """
                  - name: bogus
                    namespace: demo
                    netns: %s
                """.formatted(notANamespace);
        Path socket = mesh.dir().resolve("telemetry.sock");
        TelemetryAgent agent = startAgent(socket);
        ReporterConfig reporting = ReporterConfig.builder().socketPath(socket).node("test-node").reporterId("test-proxy")
                .flushInterval(Duration.ofMillis(100)).build();
        TestNode node = mesh.start(mesh.config().capture(a, busy).entry(GHOST).entry(bogus),
                o -> o.telemetry(reporting).removeRulesOnStop(true));

        assertThat(node.proxy.captures().states()).containsExactly(
                Map.entry("demo/a", CaptureState.CAPTURED),
                Map.entry("demo/busy", CaptureState.failed(CaptureFailure.LISTEN_FAILED)),
                Map.entry("demo/ghost", CaptureState.failed(CaptureFailure.NETNS_NOT_FOUND)),
                Map.entry("demo/bogus", CaptureState.failed(CaptureFailure.NETNS_UNUSABLE)));
        awaitScrape(agent, "nodemesh_pod_capture_state", 1, "pod=\"a\"", "state=\"captured\"");
        String metrics = MetricsScrape.fetch(agent.metricsAddress());
        assertThat(MetricsScrape.value(metrics, "nodemesh_pod_capture_state", "pod=\"ghost\"")).isEqualTo(1);
        assertThat(MetricsScrape.samples(metrics, "nodemesh_pod_capture_state", "pod=\"ghost\"").getFirst())
                .contains("namespace=\"demo\"", "state=\"failed\"");
        assertThat(MetricsScrape.samples(metrics, "nodemesh_pod_capture_state", "pod=\"busy\"", "state=\"failed\""))
                .hasSize(1);
        assertThat(MetricsScrape.value(metrics, "nodemesh_capture_failures_total", "reason=\"netns_not_found\""))
                .isEqualTo(1);
        assertThat(MetricsScrape.value(metrics, "nodemesh_capture_failures_total", "reason=\"netns_unusable\""))
                .isEqualTo(1);
        assertThat(MetricsScrape.value(metrics, "nodemesh_capture_failures_total", "reason=\"listen_failed\""))
                .isEqualTo(1);
        assertThat(MetricsScrape.value(metrics, "nodemesh_capture_failures_total", "reason=\"rules_failed\"")).isZero();

        // a leaves the mesh but stays known: released. The failed pods are tried again with the new snapshot, and fail
        // again: the counter rises.
        String aNotCaptured = """
                  - name: a
                    namespace: demo
                    ips: [%s]
                    netns: %s
                    capture: false
                """.formatted(a.ipv4().getHostAddress(), a.path());
        node.rewrite(mesh.config().entry(aNotCaptured).capture(busy).entry(GHOST).entry(bogus));
        await("a released", () -> CaptureState.RELEASED.equals(node.proxy.captures().states().get("demo/a")));
        awaitScrape(agent, "nodemesh_capture_failures_total", 2, "reason=\"netns_not_found\"");
        awaitScrape(agent, "nodemesh_pod_capture_state", 1, "pod=\"a\"", "state=\"released\"");
        assertThat(MetricsScrape.samples(MetricsScrape.fetch(agent.metricsAddress()), "nodemesh_pod_capture_state",
                "pod=\"a\"")).hasSize(1);

        // a is gone from the mesh altogether: gone from the states too.
        node.rewrite(mesh.config().capture(busy).entry(GHOST).entry(bogus));
        await("a gone", () -> !node.proxy.captures().states().containsKey("demo/a"));
        awaitScrape(agent, "nodemesh_pod_capture_state", 0, "pod=\"a\"");
        awaitScrape(agent, "nodemesh_capture_failures_total", 3, "reason=\"netns_not_found\"");
    }

    @Test
    void aPodWhoseRulesCannotBeInstalledFailsForThatReason() throws Exception {
        Netns a = mesh.pod("a");
        PodRules broken = new PodRules() {
            @Override
            public void install(PodSpec pod, ProxySettings settings) {
                throw new IllegalStateException("iptables-restore: exit status 4 in " + pod.netns());
            }

            @Override
            public void remove(PodSpec pod, ProxySettings settings) {
            }
        };
        TestNode node = mesh.start(mesh.config().capture(a), o -> o.rules(backend -> broken));
        assertThat(node.proxy.captures().states())
                .containsExactly(Map.entry("demo/a", CaptureState.failed(CaptureFailure.RULES_FAILED)));
        assertThat(node.proxy.captures().failures()).containsEntry(CaptureFailure.RULES_FAILED, 1L);
        assertThat(node.proxy.captures().pods().getFirst().detail())
                .contains("cannot install redirect rules for pod demo/a", "exit status 4");
        // Its listeners were closed again: nothing half-captured is left in the pod.
        assertThat(a.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", 15001), 1000);
                return true;
            } catch (ConnectException refused) {
                return false;
            }
        })).isFalse();
    }

    @Test
    void aRestartedAgentHearsTheStatesAgainWithoutAnyChange() throws Exception {
        Netns a = mesh.pod("a");
        Path socket = mesh.dir().resolve("telemetry.sock");
        TelemetryAgent first = startAgent(socket);
        ReporterConfig reporting = ReporterConfig.builder().socketPath(socket).node("test-node").reporterId("test-proxy")
                .flushInterval(Duration.ofMillis(100)).initialBackoff(Duration.ofMillis(50))
                .maxBackoff(Duration.ofMillis(500)).build();
        mesh.start(mesh.config().capture(a).entry(GHOST), o -> o.telemetry(reporting).removeRulesOnStop(true));
        awaitScrape(first, "nodemesh_pod_capture_state", 1, "pod=\"a\"", "state=\"captured\"");
        first.close();

        // Nothing changes on the node and no connection is made: the reporter says the states again on its new stream.
        TelemetryAgent second = startAgent(socket);
        awaitScrape(second, "nodemesh_pod_capture_state", 1, "pod=\"a\"", "state=\"captured\"");
        awaitScrape(second, "nodemesh_pod_capture_state", 1, "pod=\"ghost\"", "state=\"failed\"");
        awaitScrape(second, "nodemesh_capture_failures_total", 1, "reason=\"netns_not_found\"");
    }

    private static TelemetryAgent startAgent(Path socket) throws Exception {
        return mesh.own(TelemetryAgent.start(AgentConfig.builder().socketPath(socket)
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build()));
    }

    /** Waits (10 s at most) until the samples of {@code name} with {@code labels} add up to {@code value}. */
    private static void awaitScrape(TelemetryAgent agent, String name, double value, String... labels) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        double seen;
        while ((seen = MetricsScrape.sum(MetricsScrape.fetch(agent.metricsAddress()), name, labels)) != value) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError(name + " " + List.of(labels) + " is " + seen + ", not " + value);
            }
            Thread.sleep(20);
        }
    }
}
