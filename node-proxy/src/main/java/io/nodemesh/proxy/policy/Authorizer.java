package io.nodemesh.proxy.policy;

import io.nodemesh.proxy.discovery.MeshSnapshot;
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

    /** The policies that select {@code workload}, in order: what applies to it (for the CLI). */
    public static List<AuthorizationPolicy> applying(MeshSnapshot snapshot, PodSpec workload) {
        return snapshot.policies(workload.namespace()).stream().filter(p -> p.selects(workload.namespace(), workload.labels())).toList();
    }
}
