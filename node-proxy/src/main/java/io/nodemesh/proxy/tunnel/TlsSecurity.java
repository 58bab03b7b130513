package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.nodemesh.proxy.identity.IdentityException;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.model.SpiffeId;
import java.util.function.Function;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Mutual TLS 1.3 (ALPN {@code h2}) through {@link MeshTls}: the client presents the source workload's certificate and
 * completes only with a server that proves the destination's identity; the server presents its workload's certificate,
 * requires a client certificate of the mesh and reports the client's SPIFFE id. The certificates are looked up when a
 * connection is made, so a renewed one is used from the next connection on; connections already up keep theirs.
 */
public final class TlsSecurity implements TunnelSecurity {

    private final SpiffeId self;
    private final Function<SpiffeId, MeshTls> certificates;

    /**
     * @param self the identity the server side presents (the pod whose tunnel server this is)
     * @param certificates the TLS of an identity's current certificate, null when none is held
     *         ({@code identity.IdentityManager::current})
     */
    public TlsSecurity(SpiffeId self, Function<SpiffeId, MeshTls> certificates) {
        this.self = self;
        this.certificates = certificates;
    }

    @Override
    public Future<SpiffeId> secureClient(Channel channel, TunnelKey key) {
        MeshTls tls = certificates.apply(key.sourceIdentity());
        if (tls == null) {
            return channel.eventLoop().newFailedFuture(
                    new IdentityException("no certificate held for " + key.sourceIdentity()));
        }
        SslHandler handler = tls.newClientHandler(channel.alloc(), key.destinationIdentity());
        channel.pipeline().addLast("tls", handler);
        return peerOf(channel, handler);
    }

    @Override
    public Future<SpiffeId> secureServer(Channel channel) {
        MeshTls tls = certificates.apply(self);
        if (tls == null) {
            return channel.eventLoop().newFailedFuture(new IdentityException("no certificate held for " + self));
        }
        SslHandler handler = tls.newServerHandler(channel.alloc());
        channel.pipeline().addLast("tls", handler);
        return peerOf(channel, handler);
    }

    /** The peer's identity once the handshake is done (its trust manager has already checked chain and identity). */
    private static Future<SpiffeId> peerOf(Channel channel, SslHandler handler) {
        Promise<SpiffeId> peer = channel.eventLoop().newPromise();
        handler.handshakeFuture().addListener(done -> {
            if (!done.isSuccess()) {
                peer.tryFailure(done.cause());
                return;
            }
            try {
                peer.trySuccess(MeshTls.peerIdentity(handler.engine().getSession()));
            } catch (SSLPeerUnverifiedException e) {
                peer.tryFailure(e);
            }
        });
        return peer;
    }
}
