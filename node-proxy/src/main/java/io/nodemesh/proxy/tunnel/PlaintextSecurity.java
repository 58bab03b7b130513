package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.nodemesh.proxy.model.SpiffeId;

/**
 * No security at all: HTTP/2 straight over TCP, for tests of the tunnel itself. The client takes the server for the
 * identity it expected; the server takes every client for {@code claimedClient} (null: unauthenticated). Never wired
 * into the proxy.
 */
public final class PlaintextSecurity implements TunnelSecurity {

    private final SpiffeId claimedClient;

    /** @param claimedClient the identity the server side reports for every client, or null for none */
    public PlaintextSecurity(SpiffeId claimedClient) {
        this.claimedClient = claimedClient;
    }

    @Override
    public Future<SpiffeId> secureClient(Channel channel, TunnelKey key) {
        return channel.eventLoop().newSucceededFuture(key.destinationIdentity());
    }

    @Override
    public Future<SpiffeId> secureServer(Channel channel) {
        return channel.eventLoop().newSucceededFuture(claimedClient);
    }

    @Override
    public boolean mutualTls() {
        return false;
    }

    @Override
    public SpiffeId serverIdentity() {
        return null;
    }
}
