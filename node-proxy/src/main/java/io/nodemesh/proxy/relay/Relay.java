package io.nodemesh.proxy.relay;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import java.nio.channels.NotYetConnectedException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves bytes from one side of a {@link Connection} to the other. One instance sits at the end of
 * each side's pipeline. Back-pressure by writability: when the peer's outbound buffer is above its
 * high-water mark this side stops reading until the peer drains, so nothing queues without bound
 * and no read allocates anything but its buffer (writes use the void promise). A FIN is passed on
 * as a half-close once everything before it has been flushed; a reset is passed on as a reset.
 */
public final class Relay extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(Relay.class);

    private final ChannelConnection connection;
    private final boolean fromSource;
    private final Channel peer;

    /**
     * @param connection the connection both sides belong to
     * @param fromSource whether this handler's channel is the downstream (the side that opened the connection)
     * @param peer the other side's channel
     */
    public Relay(ChannelConnection connection, boolean fromSource, Channel peer) {
        this.connection = connection;
        this.fromSource = fromSource;
        this.peer = peer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf buf)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        int n = buf.readableBytes();
        if (fromSource) {
            connection.countFromSource(n);
        } else {
            connection.countToSource(n);
        }
        // Ownership passes to the peer's pipeline; a failed write releases it and fires exceptionCaught there.
        peer.writeAndFlush(buf, peer.voidPromise());
        if (!peer.isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            resumePeer(ctx.channel());
        }
        ctx.fireChannelWritabilityChanged();
    }

    /**
     * Lets the peer read again now that this side drained. The peer pauses itself on its own loop (in
     * {@link #channelRead}); when that is another loop (a tunnel stream's), the resume runs there too and looks at this
     * side's writability again, so a pause decided just after this side drained is not left standing for good.
     */
    private void resumePeer(Channel self) {
        if (peer.eventLoop().inEventLoop()) {
            ChannelConnection.resumeReading(peer);
        } else {
            peer.eventLoop().execute(() -> {
                if (self.isWritable()) {
                    ChannelConnection.resumeReading(peer);
                }
            });
        }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            // This side sent FIN: pass it on, after whatever this side sent before it.
            connection.shutdownOutputOnFlush(peer, !fromSource);
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        if (ctx.channel() instanceof Http2StreamChannel stream && !stream.parent().isActive()) {
            // The tunnel connection under this stream went away with it: what was in flight was cut, not ended, so the
            // other side is reset instead of being sent a FIN (CarrierLoss).
            connection.reset(CarrierLoss.of(stream.parent()), fromSource ? Side.DOWNSTREAM : Side.UPSTREAM);
            return;
        }
        ChannelConnection.closeOnFlush(peer);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (cause instanceof NotYetConnectedException && !ctx.channel().isActive()) {
            // Netty's epoll read a socket whose connect had not finished (ENOTCONN; cf. netty/netty#10411): under
            // churn about 1 connection in 1 000 through the tunnel failed this way, its connect going on to succeed.
            // The connect's own result decides; failing here closed both sides before it came.
            return;
        }
        Side side = fromSource ? Side.DOWNSTREAM : Side.UPSTREAM;
        if (Outcomes.isReset(cause)) {
            connection.reset(Outcome.RESET, side);
            return;
        }
        if (Outcomes.isPeerLost(cause)) {
            // A FIN would tell the side that is still there that the data ended; it did not, it was cut.
            log.debug("{}: the {} side stopped answering", connection, side);
            connection.reset(Outcome.PEER_LOST, side);
            return;
        }
        log.debug("{}: {} side failed", connection, side, cause);
        connection.fail(Outcome.ERROR, side);
        ctx.close();
        ChannelConnection.closeOnFlush(peer);
    }
}
