package io.nodemesh.proxy.policy;

import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetAddress;

/**
 * The connection a policy judges, as the destination's proxy sees it.
 *
 * @param identity the peer's authenticated identity (its certificate, over mutual TLS), or null for plaintext
 * @param sourceIp the client's address
 * @param destinationPort the port the client asked for on the workload
 */
public record Peer(SpiffeId identity, InetAddress sourceIp, int destinationPort) {

    /** Istio's form of a principal: {@code <trust-domain>/ns/<namespace>/sa/<account>}; null when not authenticated. */
    public String principal() {
        return identity == null ? null
                : identity.trustDomain() + "/ns/" + identity.namespace() + "/sa/" + identity.serviceAccount();
    }

    /** The authenticated peer's namespace; null when not authenticated. */
    public String namespace() {
        return identity == null ? null : identity.namespace();
    }
}
