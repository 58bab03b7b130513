package io.nodemesh.telemetry.report;

import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.Side;

/**
 * Maps how a connection ended to Envoy-style response flags, so Istio dashboards that filter on
 * {@code response_flags} keep working.
 *
 * <p>The mapping (Envoy has no flag for some of our outcomes; the closest one is used):
 * <pre>
 *   OK              -       nothing went wrong
 *   REFUSED         UF      upstream connection failure (RST on SYN)
 *   CONNECT_TIMEOUT UF,URX  upstream connection failure, connect attempts exhausted (what Envoy's
 *                           tcp_proxy reports when the connect times out)
 *   RESET           UR      the upstream reset an established connection (upstream remote reset)
 *                   DR      the downstream did (downstream remote reset); UR too when the side is not known
 *   IDLE_TIMEOUT    SI      idle timeout
 *   DENIED          UAEX    refused by authorization policy
 *   DRAINED         LR      the proxy closed it itself (drain deadline at shutdown / pod removal)
 *   PEER_LOST       UC      the upstream stopped answering (keepalive or retransmissions unanswered): Envoy
 *                           counts that as a connection termination; the outcome tells it apart from ERROR
 *                   DC      the downstream did (downstream connection termination)
 *   ERROR           UC      any other I/O failure (upstream connection termination); DC when it was the
 *                           downstream side's
 * </pre>
 */
public final class ResponseFlags {

    /** The flag value for a connection that ended normally. */
    public static final String NONE = "-";

    private ResponseFlags() {
    }

    /**
     * Envoy-style flags for an outcome that {@code endedBy}'s failure caused (unspecified: taken as upstream); unknown
     * (newer) outcomes count as errors.
     */
    public static String of(Outcome outcome, Side endedBy) {
        boolean downstream = endedBy == Side.SIDE_DOWNSTREAM;
        return switch (outcome) {
            case OUTCOME_OK -> NONE;
            case OUTCOME_REFUSED -> "UF";
            case OUTCOME_CONNECT_TIMEOUT -> "UF,URX";
            case OUTCOME_RESET -> downstream ? "DR" : "UR";
            case OUTCOME_IDLE_TIMEOUT -> "SI";
            case OUTCOME_DENIED -> "UAEX";
            case OUTCOME_DRAINED -> "LR";
            case OUTCOME_PEER_LOST, OUTCOME_ERROR -> downstream ? "DC" : "UC";
            case OUTCOME_UNSPECIFIED, UNRECOGNIZED -> "UC";
        };
    }
}
