package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.CaptureFailure;
import io.nodemesh.telemetry.v1.CaptureFailureCount;
import io.nodemesh.telemetry.v1.CaptureState;
import io.nodemesh.telemetry.v1.CaptureStates;
import io.nodemesh.telemetry.v1.PodCaptureState;
import io.nodemesh.telemetry.v1.ReportBatch;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The capture states a proxy reports, in the node's scrape: one gauge per pod for its current state while the
 * reporting stream lasts, and a failure counter by reason that grows by what each running total adds.
 */
final class CaptureStatesTest {

    @TempDir
    Path dir;

    private TelemetryAgent start() throws Exception {
        return TelemetryAgent.start(AgentConfig.builder().socketPath(dir.resolve("telemetry.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0)).build());
    }

    private static PodCaptureState pod(String name, CaptureState state, CaptureFailure reason) {
        return PodCaptureState.newBuilder().setNamespace("demo").setPod(name).setState(state).setReason(reason).build();
    }

    private static CaptureFailureCount failures(CaptureFailure reason, long total) {
        return CaptureFailureCount.newBuilder().setReason(reason).setTotal(total).build();
    }

    private static ReportBatch states(String reporter, long netnsFailures, PodCaptureState... pods) {
        return ReportClient.batch().setReporterId(reporter).setCaptureStates(CaptureStates.newBuilder()
                .addAllPods(List.of(pods))
                .addFailures(failures(CaptureFailure.CAPTURE_FAILURE_NETNS_NOT_FOUND, netnsFailures))
                .addFailures(failures(CaptureFailure.CAPTURE_FAILURE_RULES_FAILED, 0))).build();
    }

    @Test
    void showsEachPodsStateWhileTheStreamLastsAndCountsFailuresOnce() throws Exception {
        try (TelemetryAgent agent = start(); ReportClient client = new ReportClient(agent.socketPath())) {
            String metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.value(metrics, "nodemesh_capture_failures_total", "reason=\"netns_not_found\""))
                    .isZero();
            assertThat(MetricsScrape.samples(metrics, "nodemesh_pod_capture_state")).isEmpty();

            // One stream held open, as the proxy's reporter holds it: two batches, the second one's states replace the first's.
            ReportClient.OpenStream stream = client.open();
            stream.send(states("proxy-1", 1, pod("a", CaptureState.CAPTURE_STATE_PENDING, CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED),
                    pod("ghost", CaptureState.CAPTURE_STATE_FAILED, CaptureFailure.CAPTURE_FAILURE_NETNS_NOT_FOUND)));
            stream.send(states("proxy-1", 3, pod("a", CaptureState.CAPTURE_STATE_CAPTURED, CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED),
                    pod("ghost", CaptureState.CAPTURE_STATE_FAILED, CaptureFailure.CAPTURE_FAILURE_NETNS_NOT_FOUND),
                    pod("b", CaptureState.CAPTURE_STATE_RELEASED, CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED)));
            Scrape.awaitValue(agent, "nodemesh_capture_failures_total", 3, "reason=\"netns_not_found\"");
            metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.samples(metrics, "nodemesh_pod_capture_state")).containsExactlyInAnyOrder(
                    "nodemesh_pod_capture_state{namespace=\"demo\",pod=\"a\",state=\"captured\"} 1.0",
                    "nodemesh_pod_capture_state{namespace=\"demo\",pod=\"ghost\",state=\"failed\"} 1.0",
                    "nodemesh_pod_capture_state{namespace=\"demo\",pod=\"b\",state=\"released\"} 1.0");
            assertThat(MetricsScrape.value(metrics, "nodemesh_capture_failures_total", "reason=\"rules_failed\"")).isZero();

            // The proxy goes away: its pods' states go with its stream; what failed stays counted.
            assertThat(stream.finish().status().getCode()).isEqualTo(Status.Code.OK);
            awaitNoStates(agent);
            assertThat(MetricsScrape.value(MetricsScrape.fetch(agent.metricsAddress()), "nodemesh_capture_failures_total",
                    "reason=\"netns_not_found\"")).isEqualTo(3);

            // The same reporter on a new stream repeats its total: nothing new. A restarted proxy (a new reporter, its
            // total starting over) adds all of its own.
            assertThat(client.send(states("proxy-1", 3)).status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(client.send(states("proxy-2", 2)).status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(MetricsScrape.value(MetricsScrape.fetch(agent.metricsAddress()), "nodemesh_capture_failures_total",
                    "reason=\"netns_not_found\"")).isEqualTo(5);
        }
    }

    @Test
    void refusesStatesThatMakeNoSense() throws Exception {
        try (TelemetryAgent agent = start(); ReportClient client = new ReportClient(agent.socketPath())) {
            List<ReportBatch> bad = List.of(
                    states("p", 0, pod("a", CaptureState.CAPTURE_STATE_UNSPECIFIED, CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED)),
                    states("p", 0, pod("a", CaptureState.CAPTURE_STATE_FAILED, CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED)),
                    states("p", 0, pod("a", CaptureState.CAPTURE_STATE_CAPTURED, CaptureFailure.CAPTURE_FAILURE_INTERNAL)),
                    states("p", 0, pod("", CaptureState.CAPTURE_STATE_CAPTURED, CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED)),
                    states("p", 0, pod("x".repeat(300), CaptureState.CAPTURE_STATE_CAPTURED, CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED)),
                    states("p", -1),
                    ReportClient.batch().setCaptureStates(CaptureStates.newBuilder()
                            .addFailures(failures(CaptureFailure.CAPTURE_FAILURE_INTERNAL, 1))
                            .addFailures(failures(CaptureFailure.CAPTURE_FAILURE_INTERNAL, 2))).build());
            List<String> problems = List.of("capture_states.pods[0].state: 0 is not a known capture state",
                    "capture_states.pods[0].reason: 0 is not a known capture failure",
                    "capture_states.pods[0].reason: only a failed capture has a reason",
                    "capture_states.pods[0].namespace/pod: must be set",
                    "capture_states.pods[0].pod: 300 chars exceed the limit of 256",
                    "capture_states.failures[0].total: 18446744073709551615 is not a believable count",
                    "capture_states.failures[1].reason: CAPTURE_FAILURE_INTERNAL is listed twice");
            assertThat(client.refusals(bad)).containsExactlyElementsOf(problems);
            String metrics = MetricsScrape.fetch(agent.metricsAddress());
            assertThat(MetricsScrape.samples(metrics, "nodemesh_pod_capture_state")).isEmpty();
            assertThat(MetricsScrape.sum(metrics, "nodemesh_capture_failures_total")).isZero();
        }
    }

    private static void awaitNoStates(TelemetryAgent agent) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!MetricsScrape.samples(MetricsScrape.fetch(agent.metricsAddress()), "nodemesh_pod_capture_state").isEmpty()) {
            assertThat(System.nanoTime()).as("waiting for the states to go").isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
