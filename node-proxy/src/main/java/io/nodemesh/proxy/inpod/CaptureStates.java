package io.nodemesh.proxy.inpod;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.model.CaptureState;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * The capture states' bookkeeping beside the {@link CaptureReconciler}, on its thread: it counts failed capture
 * attempts by reason, remembers the pods released while the snapshot still holds them, and turns the reconciler's pods
 * into a {@link CaptureReport} whenever it publishes, handing each changed report to a listener (the telemetry
 * reporter). A pod released and gone from the snapshot drops out once its connections have drained.
 */
final class CaptureStates {

    private final Consumer<CaptureReport> listener;
    private final EnumMap<CaptureFailure, Long> failures = new EnumMap<>(CaptureFailure.class);
    private final Map<String, PodSpec> released = new LinkedHashMap<>();
    private List<PodSpec> awaiting = List.of();
    private volatile CaptureReport current = CaptureReport.EMPTY;

    /** What a pod whose sandbox is not set up yet waits for. */
    static final String AWAITING_SANDBOX = "waiting for its sandbox: the CNI plugin hands the pod over on ADD";

    CaptureStates(Consumer<CaptureReport> listener) {
        this.listener = listener;
    }

    /** A capture attempt failed for {@code reason}. */
    void failed(CaptureFailure reason) {
        failures.merge(reason, 1L, Long::sum);
    }

    /** {@code pod} is no longer captured; it shows as released while {@link #retain} keeps it. */
    void released(PodSpec pod) {
        released.put(pod.key(), pod);
    }

    /**
     * The pods to be captured that have no namespace and no address yet: their sandbox is not set up, and the CNI
     * plugin hands each over with its namespace on ADD. They show as pending, saying so, until then.
     */
    void awaiting(List<PodSpec> pods) {
        awaiting = List.copyOf(pods);
    }

    /** Forgets the released pods that {@code next} no longer has, or captures again. */
    void retain(MeshSnapshot next) {
        released.keySet().removeIf(key -> {
            PodSpec wanted = next.pods().get(key);
            return wanted == null || wanted.capture();
        });
    }

    /** Builds the report from the pods captured now and those draining; tells the listener if it changed. */
    void publish(Collection<PodCapture> running, Collection<PodCapture> draining) {
        List<CaptureReport.Pod> pods = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (PodCapture p : running) {
            seen.add(p.spec().key());
            CaptureState state = p.captureState();
            pods.add(new CaptureReport.Pod(p.spec().namespace(), p.spec().name(), state,
                    state.phase() == CaptureState.Phase.FAILED ? p.lastError() : null));
        }
        for (PodCapture p : draining) {
            if (seen.add(p.spec().key())) {
                pods.add(new CaptureReport.Pod(p.spec().namespace(), p.spec().name(), CaptureState.RELEASED, null));
            }
        }
        for (PodSpec p : awaiting) {
            if (seen.add(p.key())) {
                pods.add(new CaptureReport.Pod(p.namespace(), p.name(), CaptureState.PENDING, AWAITING_SANDBOX));
            }
        }
        for (PodSpec p : released.values()) {
            if (seen.add(p.key())) {
                pods.add(new CaptureReport.Pod(p.namespace(), p.name(), CaptureState.RELEASED, null));
            }
        }
        CaptureReport next = new CaptureReport(pods, failures);
        if (!next.equals(current)) {
            current = next;
            listener.accept(next);
        }
    }

    /** The latest report; safe from any thread. */
    CaptureReport current() {
        return current;
    }
}
