package io.nodemesh.proxy.tunnel;

import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What a pooled tunnel connection is shared by: streams from the same source identity to the same destination identity
 * at the same address ride one connection (ztunnel's pool key, without the source address: a pool belongs to one pod).
 *
 * @param sourceIdentity the identity the source presents
 * @param destinationIdentity the identity the far end must prove
 * @param destinationAddress the destination workload's address; the tunnel goes to its IP at the tunnel port
 */
public record TunnelKey(SpiffeId sourceIdentity, SpiffeId destinationIdentity, InetSocketAddress destinationAddress) {

    public TunnelKey {
        Objects.requireNonNull(sourceIdentity, "sourceIdentity");
        Objects.requireNonNull(destinationIdentity, "destinationIdentity");
        Objects.requireNonNull(destinationAddress, "destinationAddress");
    }
}
