package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.DefaultChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.relay.ChannelConnection;
import java.net.InetSocketAddress;

/**
 * The upstream of an app connection to a meshed destination: a {@code CONNECT} stream on a pooled tunnel connection
 * of the source pod, shaped like {@code relay.Upstream} (and like {@code inpod.PodUpstream}'s connect to a chosen
 * address) so the relay, its outcomes and its telemetry treat it as any other upstream channel.
 */
public final class TunnelUpstream {

    private final TunnelPool pool;
    private final SpiffeId source;

    /**
     * @param pool the source pod's tunnel connections
     * @param source the identity the source pod presents
     */
    public TunnelUpstream(TunnelPool pool, SpiffeId source) {
        this.pool = pool;
        this.source = source;
    }

    /** The identity the source pod presents. */
    public SpiffeId source() {
        return source;
    }

    /**
     * Opens a stream to {@code address} (the destination workload), whose tunnel server must prove {@code destination}.
     * The future is notified on {@code loop}; on success its channel is the stream (registered on its connection's
     * loop, which may be another: the relay hands work across), reading off, {@code handler} last, and the
     * connection's path is the tunnel connection's (its far end, the identities both ends proved).
     */
    public ChannelFuture connect(ChannelConnection connection, SpiffeId destination, InetSocketAddress address,
                                 EventLoop loop, ChannelHandler handler) {
        StreamPromise promise = new StreamPromise(connection.downstream(), loop);
        pool.openStream(new TunnelKey(source, destination, address), connection.source(), loop, handler)
                .addListener(f -> {
                    if (f.isSuccess()) {
                        Http2StreamChannel stream = (Http2StreamChannel) f.getNow();
                        connection.path(TunnelPath.of(stream));
                        promise.succeed(stream);
                    } else {
                        promise.setFailure(f.cause());
                    }
                });
        return promise;
    }

    /**
     * The relay's connect future for a stream that does not exist yet: until it does, its channel is the downstream
     * (Netty's promises fix their channel when made; this one learns the stream when the tunnel answers).
     */
    private static final class StreamPromise extends DefaultChannelPromise {

        private volatile Channel stream;

        StreamPromise(Channel downstream, EventLoop loop) {
            super(downstream, loop);
        }

        void succeed(Http2StreamChannel opened) {
            stream = opened;
            setSuccess();
        }

        @Override
        public Channel channel() {
            Channel s = stream;
            return s != null ? s : super.channel();
        }
    }
}
