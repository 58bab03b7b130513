package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.util.concurrent.Future;
import io.nodemesh.proxy.model.SpiffeId;

/**
 * How a tunnel connection is secured: what goes in front of HTTP/2 in its pipeline, and who the peer turned out to be.
 * Mutual TLS in the mesh; {@link PlaintextSecurity} where a test wants to look at the tunnel alone.
 */
public interface TunnelSecurity {

    /**
     * Adds the client side's handlers to a new tunnel connection's pipeline (before HTTP/2). The future completes once
     * the peer is known: with the server's identity, which must be {@code key.destinationIdentity()} (a different one
     * fails it), or fails when the handshake does.
     */
    Future<SpiffeId> secureClient(Channel channel, TunnelKey key);

    /**
     * Adds the server side's handlers to an accepted tunnel connection's pipeline (before HTTP/2). The future completes
     * with the client's proven identity, or null when the security proves none (plaintext), or fails with the handshake.
     */
    Future<SpiffeId> secureServer(Channel channel);

    /**
     * Whether a client connection this security made for {@code key} still presents what a new one would: false once
     * the source's certificate was renewed after the connection was made. The pool opens new streams only on current
     * connections; those in flight stay where they are.
     */
    default boolean current(Channel channel, TunnelKey key) {
        return true;
    }

    /** Whether it is mutual TLS: what a tunnel stream's connection reports as its security. */
    boolean mutualTls();

    /** The identity the server side presents (the pod whose tunnel server it secures), or null where it proves none. */
    SpiffeId serverIdentity();
}
