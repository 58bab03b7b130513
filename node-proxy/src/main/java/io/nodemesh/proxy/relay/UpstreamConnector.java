package io.nodemesh.proxy.relay;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import io.nodemesh.proxy.model.Outcome;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Once the original destination is known, connects upstream through an {@link Upstream} (for outbound
 * connections the route decision chooses how; the socket is created in the pod's network namespace with the
 * proxy's mark) and then hands both channels to a {@link Relay}. Until then the downstream channel does not read. A refused or timed-out connect
 * resets the downstream connection, so the client sees what it would have seen without the proxy.
 *
 * <p>Even with AUTO_READ off, epoll reads a socket once the peer's FIN arrives (to notice the
 * half-close), so a client that sends its request and FIN at once can deliver data before the
 * upstream is connected; that data (usually one buffer) and the FIN are held here and replayed
 * into the relay once connected.
 */
public final class UpstreamConnector extends ChannelInboundHandlerAdapter implements ChannelFutureListener {

    private static final Logger log = LoggerFactory.getLogger(UpstreamConnector.class);

    private final ChannelConnection connection;
    private final Upstream upstream;
    private ChannelHandlerContext ctx;
    private ArrayDeque<Object> early;
    private boolean earlyInputShutdown;

    /**
     * @param connection the connection being set up
     * @param upstream how to reach the destination
     */
    public UpstreamConnector(ChannelConnection connection, Upstream upstream) {
        this.connection = connection;
        this.upstream = upstream;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        Channel downstream = ctx.channel();
        // Same loop as the downstream: the connection's state needs no locking.
        upstream.connect(connection, downstream.eventLoop(), new Relay(connection, false, downstream)).addListener(this);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (early == null) {
            early = new ArrayDeque<>(2);
        }
        early.add(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            earlyInputShutdown = true;
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        releaseEarly();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        releaseEarly();
        ctx.fireChannelInactive();
    }

    private void releaseEarly() {
        if (early != null) {
            Object msg;
            while ((msg = early.poll()) != null) {
                ReferenceCountUtil.release(msg);
            }
        }
    }

    @Override
    public void operationComplete(ChannelFuture connect) {
        Channel up = connect.channel();
        Channel downstream = ctx.channel();
        if (!connect.isSuccess()) {
            Outcome outcome = Outcomes.ofConnectFailure(connect.cause());
            log.debug("{}: upstream connect failed ({}): {}", connection, outcome, connect.cause().toString());
            connection.reset(outcome);
            return;
        }
        if (!downstream.isActive()) {
            up.close(); // the client gave up while we were connecting
            return;
        }
        connection.upstreamConnected(up);
        ArrayDeque<Object> held = early;
        early = null;
        ChannelPipeline pipeline = ctx.pipeline();
        pipeline.replace(this, "relay", new Relay(connection, true, up));
        if (held != null) {
            for (Object msg : held) {
                pipeline.fireChannelRead(msg);
            }
        }
        if (earlyInputShutdown) {
            pipeline.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
        ChannelConnection.resumeReading(up);
        ChannelConnection.resumeReading(downstream);
    }
}
