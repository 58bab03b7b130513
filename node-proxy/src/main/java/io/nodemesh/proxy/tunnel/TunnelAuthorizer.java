package io.nodemesh.proxy.tunnel;

import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;

/** Whether the tunnel's server lets one stream through to its destination; decided from memory, never blocking. */
@FunctionalInterface
public interface TunnelAuthorizer {

    /** Lets everything through (tests of the tunnel alone). */
    TunnelAuthorizer ALLOW_ALL = (peer, client, destination) -> null;

    /**
     * @param peer the client's proven identity, null when the tunnel's security proves none
     * @param client the app's client (the stream's {@code forwarded: for=}, or the tunnel connection's peer)
     * @param destination the {@code :authority} asked for
     * @return null to let the stream through, or why it is denied (logged; the client gets 401 without an identity,
     *         403 with one)
     */
    String deny(SpiffeId peer, InetSocketAddress client, InetSocketAddress destination);
}
