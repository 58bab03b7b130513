package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.concurrent.Future;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.relay.CarrierLoss;
import io.nodemesh.proxy.relay.ConnectionListener;
import io.nodemesh.proxy.relay.Upstream;
import io.nodemesh.proxy.stats.TunnelStats;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of the tunnel (:15008, inside the destination pod's network namespace): the pipeline of an accepted
 * tunnel connection. Its security goes first, then HTTP/2; every stream is a channel of its own
 * ({@link ConnectRequest}) that is authorized and spliced to the app through {@code app}, which creates the socket
 * where it must be (in the pod, marked to skip capture). Bind it with any server bootstrap; it turns reading on.
 */
@ChannelHandler.Sharable
public final class TunnelServer extends ChannelInitializer<Channel> {

    private static final Logger log = LoggerFactory.getLogger(TunnelServer.class);

    private final TunnelStats stats;
    private final Set<Channel> accepted = ConcurrentHashMap.newKeySet();
    private final TunnelSettings settings;
    private final TunnelSecurity security;
    private final ChannelInitializer<Http2StreamChannel> streams;
    private final RefusalLog refusals = new RefusalLog(System::nanoTime);

    /**
     * @param settings windows and stream limit
     * @param security what secures each connection
     * @param authorizer decides every stream
     * @param app connects a stream's destination (the connection's original destination is the {@code :authority})
     * @param listener told of every authorized stream as a connection, opened and closed (telemetry)
     * @param stats where its connections, refused handshakes and answers are counted
     */
    public TunnelServer(TunnelSettings settings, TunnelSecurity security, TunnelAuthorizer authorizer, Upstream app,
                        ConnectionListener listener, TunnelStats stats) {
        this.settings = settings;
        this.security = security;
        this.stats = stats;
        this.streams = new ChannelInitializer<>() {
            @Override
            protected void initChannel(Http2StreamChannel stream) {
                stream.pipeline()
                        .addLast("connect", new ConnectRequest(authorizer, app, listener, stats))
                        .addLast("bytes", new StreamBytes());
            }
        };
    }

    /**
     * Tells every client connected now to open no new stream here (HTTP/2 {@code GOAWAY}, no error): the streams open
     * finish, the clients close the connections after their last. A connection still in its handshake is closed.
     */
    public void goAway() {
        for (Channel ch : accepted) {
            if (ch.pipeline().get("http2") != null) {
                ch.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
            } else {
                ch.close();
            }
        }
    }

    /** Closes every connection accepted (their streams end with them). */
    public void closeAll() {
        accepted.forEach(Channel::close);
    }

    @Override
    protected void initChannel(Channel ch) {
        stats.accepted();
        accepted.add(ch);
        ch.closeFuture().addListener(f -> accepted.remove(ch));
        Future<SpiffeId> peer = security.secureServer(ch);
        ch.pipeline().addLast("failures", CloseOnFailure.INSTANCE);
        // HTTP/2 only once the peer is proven: nothing is written to, or read from, a peer that fails the handshake.
        peer.addListener(f -> {
            if (!f.isSuccess()) {
                MeshTls.Refusal refusal = MeshTls.refusal(f.cause());
                stats.handshakeFailed(refusal.reason());
                refusals.refused(ch.localAddress(), ch.remoteAddress(), refusal);
                ch.close();
                return;
            }
            // The client's proven identity (null: none) and this pod's, for the streams' connections.
            TunnelPath.established(ch, security, peer.getNow(), security.serverIdentity());
            ch.pipeline()
                    .addBefore("failures", "flushes", TunnelCodec.flushes())
                    .addBefore("failures", "http2", TunnelCodec.server(settings))
                    .addBefore("failures", "streams", new Http2MultiplexHandler(streams))
                    .addBefore("failures", "window", new TunnelCodec.ConnectionWindow(settings.connectionWindow()));
        });
        ch.config().setAutoRead(true);
    }

    /**
     * A tunnel connection that fails below its streams (a refused handshake, bytes that are not HTTP/2) is closed and
     * logged at debug level; only that connection ends, the others and the listener carry on.
     */
    @ChannelHandler.Sharable
    private static final class CloseOnFailure extends ChannelInboundHandlerAdapter {

        static final CloseOnFailure INSTANCE = new CloseOnFailure();

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("tunnel connection from {} failed: {}", ctx.channel().remoteAddress(), cause.toString());
            CarrierLoss.failed(ctx.channel(), cause);
            ctx.close();
        }
    }
}
