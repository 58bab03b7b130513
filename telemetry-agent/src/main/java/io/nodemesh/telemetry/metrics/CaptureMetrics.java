package io.nodemesh.telemetry.metrics;

import io.nodemesh.telemetry.v1.CaptureFailure;
import io.nodemesh.telemetry.v1.CaptureFailureCount;
import io.nodemesh.telemetry.v1.CaptureState;
import io.nodemesh.telemetry.v1.CaptureStates;
import io.nodemesh.telemetry.v1.PodCaptureState;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The node's capture states from the proxies' reports: {@code nodemesh_pod_capture_state{namespace,pod,state}} (1 for
 * each pod's current state) and {@code nodemesh_capture_failures_total{reason}} (failed capture attempts; the alert
 * that the sidecar-injection failure counter is to Istio users).
 *
 * <p>A stream's states count while it lasts: when the proxy goes away so do its pods' states (a reporter says them
 * again first thing on a new stream). Reporters send running totals of failures, each counted once
 * ({@link RunningTotals}). Thread-safe.
 */
public final class CaptureMetrics {

    private final Counter failures;
    private final Map<Object, Held> byStream = new ConcurrentHashMap<>();
    private final AtomicLong sequence = new AtomicLong();
    private final RunningTotals totals;

    /** One stream's latest states, and when they arrived (a later stream's word on a pod wins). */
    private record Held(long sequence, List<PodCaptureState> pods) {
    }

    public CaptureMetrics(PrometheusRegistry registry) {
        failures = Counter.builder().name("nodemesh_capture_failures")
                .help("Failed attempts to capture a pod, by reason.").labelNames("reason").withoutExemplars()
                .register(registry);
        totals = new RunningTotals(failures);
        for (CaptureFailure reason : CaptureFailure.values()) {
            if (reason != CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED && reason != CaptureFailure.UNRECOGNIZED) {
                failures.initLabelValues(label(reason));
            }
        }
        GaugeWithCallback.builder().name("nodemesh_pod_capture_state")
                .help("1 for the state each captured or released pod of this node is in.")
                .labelNames("namespace", "pod", "state")
                .callback(cb -> current().forEach((key, pod) -> cb.call(1, pod.getNamespace(), pod.getPod(),
                        label(pod.getState()))))
                .register(registry);
    }

    /** Takes the states a stream of {@code reporterId} just sent (validated); replaces that stream's earlier ones. */
    public void update(Object stream, String reporterId, CaptureStates states) {
        byStream.put(stream, new Held(sequence.incrementAndGet(), List.copyOf(states.getPodsList())));
        for (CaptureFailureCount count : states.getFailuresList()) {
            totals.add(reporterId, count.getTotal(), label(count.getReason()));
        }
    }

    /** The stream ended: its pods' states no longer count. */
    public void forget(Object stream) {
        byStream.remove(stream);
    }

    /** Each pod's state, the latest word on it from the streams open now, by {@code namespace/pod}. */
    public Map<String, PodCaptureState> current() {
        List<Held> held = new ArrayList<>(byStream.values());
        held.sort(Comparator.comparingLong(Held::sequence));
        Map<String, PodCaptureState> out = new LinkedHashMap<>();
        for (Held h : held) {
            for (PodCaptureState pod : h.pods()) {
                out.put(pod.getNamespace() + "/" + pod.getPod(), pod);
            }
        }
        return out;
    }

    /** Failed capture attempts counted for {@code reason} (e.g. {@code netns_not_found}). */
    public long failures(String reason) {
        return failures.labelValues(reason).getLongValue();
    }

    /** {@code captured}, {@code failed}: the enum's name without its prefix, in lower case. */
    static String label(CaptureState state) {
        return state.name().substring("CAPTURE_STATE_".length()).toLowerCase(Locale.ROOT);
    }

    /** {@code netns_not_found}: the enum's name without its prefix, in lower case. */
    static String label(CaptureFailure reason) {
        return reason.name().substring("CAPTURE_FAILURE_".length()).toLowerCase(Locale.ROOT);
    }
}
