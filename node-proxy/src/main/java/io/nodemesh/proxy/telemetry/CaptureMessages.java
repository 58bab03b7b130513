package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.telemetry.v1.CaptureFailureCount;
import io.nodemesh.telemetry.v1.CaptureState;
import io.nodemesh.telemetry.v1.CaptureStates;
import io.nodemesh.telemetry.v1.PodCaptureState;
import java.util.Map;

/** Writes a {@link CaptureReport} as the report protocol's {@link CaptureStates}. */
final class CaptureMessages {

    private CaptureMessages() {
    }

    static CaptureStates of(CaptureReport report) {
        CaptureStates.Builder out = CaptureStates.newBuilder();
        for (CaptureReport.Pod pod : report.pods()) {
            PodCaptureState.Builder p = PodCaptureState.newBuilder()
                    .setNamespace(pod.namespace())
                    .setPod(pod.name())
                    .setState(state(pod.state().phase()));
            if (pod.state().reason() != null) {
                p.setReason(reason(pod.state().reason()));
            }
            out.addPods(p);
        }
        for (Map.Entry<CaptureFailure, Long> e : report.failures().entrySet()) {
            out.addFailures(CaptureFailureCount.newBuilder().setReason(reason(e.getKey())).setTotal(e.getValue()));
        }
        return out.build();
    }

    private static CaptureState state(io.nodemesh.proxy.model.CaptureState.Phase phase) {
        return switch (phase) {
            case PENDING -> CaptureState.CAPTURE_STATE_PENDING;
            case CAPTURED -> CaptureState.CAPTURE_STATE_CAPTURED;
            case FAILED -> CaptureState.CAPTURE_STATE_FAILED;
            case RELEASED -> CaptureState.CAPTURE_STATE_RELEASED;
        };
    }

    private static io.nodemesh.telemetry.v1.CaptureFailure reason(CaptureFailure reason) {
        return switch (reason) {
            case NETNS_NOT_FOUND -> io.nodemesh.telemetry.v1.CaptureFailure.CAPTURE_FAILURE_NETNS_NOT_FOUND;
            case NETNS_UNUSABLE -> io.nodemesh.telemetry.v1.CaptureFailure.CAPTURE_FAILURE_NETNS_UNUSABLE;
            case LISTEN_FAILED -> io.nodemesh.telemetry.v1.CaptureFailure.CAPTURE_FAILURE_LISTEN_FAILED;
            case RULES_FAILED -> io.nodemesh.telemetry.v1.CaptureFailure.CAPTURE_FAILURE_RULES_FAILED;
            case INTERNAL -> io.nodemesh.telemetry.v1.CaptureFailure.CAPTURE_FAILURE_INTERNAL;
        };
    }
}
