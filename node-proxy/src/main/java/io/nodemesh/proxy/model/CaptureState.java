package io.nodemesh.proxy.model;

import java.util.Locale;
import java.util.Objects;

/**
 * Where one pod of this node stands with capture: {@code pending} (wanted, being set up), {@code captured} (listeners
 * open and rules in place), {@code failed(reason)}, or {@code released} (no longer captured: draining, or still known
 * but not wanted any more). What the admin API, the CLI and the node's metrics show per pod.
 *
 * @param phase the state
 * @param reason why it failed; null unless {@link Phase#FAILED}
 */
public record CaptureState(Phase phase, CaptureFailure reason) {

    /** The states a pod's capture goes through. */
    public enum Phase {
        PENDING, CAPTURED, FAILED, RELEASED;

        /** The name in metrics, the admin API and the CLI. */
        public String label() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    public static final CaptureState PENDING = new CaptureState(Phase.PENDING, null);
    public static final CaptureState CAPTURED = new CaptureState(Phase.CAPTURED, null);
    public static final CaptureState RELEASED = new CaptureState(Phase.RELEASED, null);

    public CaptureState {
        Objects.requireNonNull(phase, "phase");
        if ((phase == Phase.FAILED) != (reason != null)) {
            throw new IllegalArgumentException("a reason goes with the failed state, and only with it: " + phase
                    + ", " + reason);
        }
    }

    /** {@code failed(reason)}. */
    public static CaptureState failed(CaptureFailure reason) {
        return new CaptureState(Phase.FAILED, Objects.requireNonNull(reason, "reason"));
    }

    /** {@code captured}, or {@code failed(netns_not_found)}: the way the admin API and the CLI write it. */
    @Override
    public String toString() {
        return reason == null ? phase.label() : phase.label() + "(" + reason.label() + ")";
    }
}
