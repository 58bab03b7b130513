package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.nodemesh.proxy.identity.IdentityException;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.identity.WorkloadCertificates;
import io.nodemesh.proxy.model.SpiffeId;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import javax.net.ssl.SSLPeerUnverifiedException;

/**
 * Mutual TLS 1.3 (ALPN {@code h2}) through {@link MeshTls}: the client presents the source workload's certificate and
 * completes only with a server that proves the destination's identity; the server presents its workload's certificate,
 * requires a client certificate of the mesh and reports the client's SPIFFE id. The certificates are looked up when a
 * connection is made, so a renewed one is used from the next connection on; connections already up keep theirs, and a
 * client connection that presents a renewed certificate takes no new stream ({@link #current}), so app connections
 * opened after a renewal ride a connection that presents the new one. A
 * client's connection made before its workload's first certificate is issued (the pod was captured a moment ago)
 * waits for it, within the tunnel's connect timeout, instead of failing.
 */
public final class TlsSecurity implements TunnelSecurity {

    /** The certificate a connection presents (the pool asks whether it is still the current one). */
    private static final AttributeKey<MeshTls> PRESENTED = AttributeKey.valueOf(TlsSecurity.class, "presented");

    private final SpiffeId self;
    private final WorkloadCertificates certificates;

    /**
     * @param self the identity the server side presents (the pod whose tunnel server this is)
     * @param certificates the workloads' certificates ({@code identity.IdentityManager})
     */
    public TlsSecurity(SpiffeId self, WorkloadCertificates certificates) {
        this.self = self;
        this.certificates = certificates;
    }

    @Override
    public Future<SpiffeId> secureClient(Channel channel, TunnelKey key) {
        return secure(channel, key.sourceIdentity(), tls -> tls.newClientHandler(channel.alloc(),
                key.destinationIdentity()), true);
    }

    @Override
    public boolean current(Channel channel, TunnelKey key) {
        // Asked for every new app connection on a pooled one: a lookup that never blocks and allocates nothing.
        MeshTls presented = channel.attr(PRESENTED).get();
        MeshTls now = certificates.current(key.sourceIdentity());
        // Not renewed, or nothing better to offer (expired and not renewed yet, or its pod left: keep what works).
        return presented == null || now == null || now == presented;
    }

    @Override
    public Future<SpiffeId> secureServer(Channel channel) {
        // No waiting here: the server reads as soon as it accepts, and a ClientHello read before TLS is in place would
        // be lost. Its certificate was asked for when its pod was captured, before its listeners opened.
        return secure(channel, self, tls -> tls.newServerHandler(channel.alloc()), false);
    }

    @Override
    public boolean mutualTls() {
        return true;
    }

    @Override
    public SpiffeId serverIdentity() {
        return self;
    }

    /**
     * Puts the TLS handler of {@code id}'s certificate first in the pipeline, at once when the certificate is held,
     * else ({@code wait}) on the channel's loop once it is issued: nothing is written before TLS is in place, and the
     * client writes first.
     */
    private Future<SpiffeId> secure(Channel channel, SpiffeId id, Function<MeshTls, SslHandler> handler,
            boolean wait) {
        CompletableFuture<MeshTls> certificate;
        try {
            certificate = certificates.ready(id);
        } catch (RuntimeException e) {
            return channel.eventLoop().newFailedFuture(e);
        }
        if (certificate.isDone() && !certificate.isCompletedExceptionally()) {
            channel.attr(PRESENTED).set(certificate.join());
            SslHandler tls = handler.apply(certificate.join());
            channel.pipeline().addFirst("tls", tls);
            return peerOf(channel, tls);
        }
        if (!wait && !certificate.isDone()) {
            return channel.eventLoop().newFailedFuture(new IdentityException("no certificate held for " + id + " yet"));
        }
        Promise<SpiffeId> peer = channel.eventLoop().newPromise();
        certificate.whenComplete((held, error) -> channel.eventLoop().execute(() -> {
            if (error != null) {
                peer.tryFailure(new IdentityException("no certificate held for " + id + ": "
                        + (error.getCause() != null ? error.getCause().getMessage() : error.getMessage())));
            } else if (!peer.isDone() && channel.isOpen()) {
                channel.attr(PRESENTED).set(held);
                SslHandler tls = handler.apply(held);
                channel.pipeline().addFirst("tls", tls);
                peerOf(channel, tls).addListener(f -> {
                    if (f.isSuccess()) {
                        peer.trySuccess((SpiffeId) f.getNow());
                    } else {
                        peer.tryFailure(f.cause());
                    }
                });
            } else {
                peer.tryFailure(new IdentityException("the connection closed while waiting for " + id
                        + "'s certificate"));
            }
        }));
        return peer;
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
