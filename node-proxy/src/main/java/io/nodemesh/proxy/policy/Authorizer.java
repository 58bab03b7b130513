package io.nodemesh.proxy.policy;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PeerAuthentication;
import io.nodemesh.proxy.discovery.PodSpec;
import java.util.ArrayList;
import java.util.List;

/**
 * The authorization decision at the destination, with Istio's semantics: a matching DENY policy denies; otherwise, if
 * any ALLOW policy selects the workload, only a connection one of them matches is allowed; with no ALLOW policy, the
 * connection is allowed. A pure function of the snapshot's policies, the destination workload and the peer.
 */
public final class Authorizer {

    private static final Decision NO_POLICY = new Decision(true, "no policy selects the workload");

    private Authorizer() {
    }

    /**
     * The decision and why.
     *
     * @param allowed whether the connection may proceed
     * @param reason which policy decided, or why none did
     */
    public record Decision(boolean allowed, String reason) {
    }

    /** Decides a connection from {@code peer} to {@code workload} under {@code snapshot}'s policies. */
    public static Decision decide(MeshSnapshot snapshot, PodSpec workload, Peer peer) {
        List<AuthorizationPolicy> policies = snapshot.policies(workload.namespace());
        if (policies.isEmpty()) {
            return NO_POLICY;
        }
        List<AuthorizationPolicy> allows = null;
        for (AuthorizationPolicy p : policies) {
            if (!p.selects(workload.namespace(), workload.labels())) {
                continue;
            }
            if (p.action() == AuthorizationPolicy.Action.DENY) {
                if (p.matches(peer)) {
                    return new Decision(false, "denied by policy " + p.key() + " (DENY)");
                }
            } else {
                if (allows == null) {
                    allows = new ArrayList<>(2);
                }
                allows.add(p);
            }
        }
        if (allows == null) {
            return NO_POLICY;
        }
        for (AuthorizationPolicy p : allows) {
            if (p.matches(peer)) {
                return new Decision(true, "allowed by policy " + p.key() + " (ALLOW)");
            }
        }
        return new Decision(false, "no ALLOW policy matches: " + allows.stream().map(AuthorizationPolicy::key).toList());
    }

    /** The policies that select {@code workload}, in order: what applies to it. */
    public static List<AuthorizationPolicy> applying(MeshSnapshot snapshot, PodSpec workload) {
        return snapshot.policies(workload.namespace()).stream().filter(p -> p.selects(workload.namespace(), workload.labels())).toList();
    }

    /**
     * What governs connections into one workload, for {@code nodemesh policies}.
     *
     * @param workload the pod's {@code namespace/name}
     * @param peerAuthentication its namespace's mode
     * @param applying the policies that select it, in order
     * @param effect in one sentence, what those policies and the mode let in
     */
    public record Explanation(String workload, PeerAuthentication peerAuthentication,
            List<AuthorizationPolicy> applying, String effect) {
    }

    /** What applies to connections into {@code workload} under {@code snapshot}, and why. */
    public static Explanation explain(MeshSnapshot snapshot, PodSpec workload) {
        List<AuthorizationPolicy> applying = applying(snapshot, workload);
        List<String> denies = keys(applying, AuthorizationPolicy.Action.DENY);
        List<String> allows = keys(applying, AuthorizationPolicy.Action.ALLOW);
        String effect;
        if (applying.isEmpty()) {
            effect = "no policy selects it: every connection is allowed";
        } else if (allows.isEmpty()) {
            effect = "connections a DENY policy matches are denied " + denies + "; the rest are allowed";
        } else if (denies.isEmpty()) {
            effect = "only connections an ALLOW policy matches are allowed " + allows;
        } else {
            effect = "connections a DENY policy matches are denied " + denies
                    + "; of the rest only those an ALLOW policy matches are allowed " + allows;
        }
        PeerAuthentication mode = snapshot.peerAuthentication(workload.namespace());
        if (mode == PeerAuthentication.STRICT) {
            effect += "; plaintext is refused (peer authentication strict)";
        }
        return new Explanation(workload.key(), mode, applying, effect);
    }

    private static List<String> keys(List<AuthorizationPolicy> policies, AuthorizationPolicy.Action action) {
        return policies.stream().filter(p -> p.action() == action).map(AuthorizationPolicy::key).toList();
    }
}
