package io.nodemesh.proxy.model;

import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * How this node's pods are captured, whole, at one moment: each pod's {@link CaptureState} and the capture attempts
 * that failed since the proxy started, by reason. Immutable; the proxy publishes a new one whenever a state changes,
 * for the admin API and for the telemetry agent (the node's Prometheus scrape).
 *
 * @param pods this node's pods that are or were captured, in the order they were first captured
 * @param failures failed capture attempts since start, cumulative, by reason (every reason present, zero or not)
 */
public record CaptureReport(List<Pod> pods, Map<CaptureFailure, Long> failures) {

    /** Nothing captured, nothing failed. */
    public static final CaptureReport EMPTY = new CaptureReport(List.of(), zeroFailures());

    public CaptureReport {
        pods = List.copyOf(pods);
        EnumMap<CaptureFailure, Long> all = zeroFailures();
        all.putAll(failures);
        failures = java.util.Collections.unmodifiableMap(all);
    }

    private static EnumMap<CaptureFailure, Long> zeroFailures() {
        EnumMap<CaptureFailure, Long> m = new EnumMap<>(CaptureFailure.class);
        for (CaptureFailure f : CaptureFailure.values()) {
            m.put(f, 0L);
        }
        return m;
    }

    /** The pods' states by {@code namespace/name}, in {@link #pods} order. */
    public Map<String, CaptureState> states() {
        Map<String, CaptureState> m = new LinkedHashMap<>();
        for (Pod p : pods) {
            m.put(p.key(), p.state());
        }
        return m;
    }

    /**
     * One pod's capture.
     *
     * @param namespace the pod's namespace
     * @param name its name
     * @param state where its capture stands
     * @param detail for operators: what went wrong when it failed, what it waits for when pending before its sandbox
     *     exists; else null
     */
    public record Pod(String namespace, String name, CaptureState state, String detail) {
        public Pod {
            Objects.requireNonNull(namespace, "namespace");
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(state, "state");
        }

        /** {@code namespace/name}. */
        public String key() {
            return namespace + "/" + name;
        }
    }
}
