package io.nodemesh.proxy.relay;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.util.ReferenceCountUtil;
import io.nodemesh.proxy.model.Outcome;
import java.net.ConnectException;
import java.util.ArrayDeque;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Once the original destination is known, connects to it (from the pod's network namespace, with
 * the proxy's mark: that is the bootstrap's business) and then hands both channels to a
 * {@link Relay}. Until then the downstream channel does not read. A refused or timed-out connect
 * resets the downstream connection, so the client sees what it would have seen without the proxy.
 *
 * <p>Even with AUTO_READ off, epoll reads a socket once the peer's FIN arrives (to notice the
 * half-close), so a client that sends its request and FIN at once can deliver data before the
 * upstream is connected; that data (usually one buffer) and the FIN are held here and replayed
 * into the relay once connected.
 */
public final class UpstreamConnector extends ChannelInboundHandlerAdapter implements ChannelFutureListener {

    private static final Logger log = LoggerFactory.getLogger(UpstreamConnector.class);

    private final Connection connection;
    private final Supplier<Bootstrap> upstream;
    private ChannelHandlerContext ctx;
    private ArrayDeque<Object> early;
    private boolean earlyInputShutdown;

    /**
     * @param connection the connection being set up
     * @param upstream a fresh bootstrap per call, configured for the pod (namespace, mark, timeouts, AUTO_READ off)
     */
    public UpstreamConnector(Connection connection, Supplier<Bootstrap> upstream) {
        this.connection = connection;
        this.upstream = upstream;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        Channel downstream = ctx.channel();
        ChannelFuture connect = upstream.get()
                .group(downstream.eventLoop()) // same loop: the connection's state needs no locking
                .handler(new Relay(connection, false, downstream))
                .connect(connection.destination());
        connection.upstreamConnecting(connect.channel());
        connect.addListener(this);
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
            Outcome outcome = outcomeOf(connect.cause());
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
        Connection.resumeReading(up);
        Connection.resumeReading(downstream);
    }

    static Outcome outcomeOf(Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return Outcome.CONNECT_TIMEOUT;
        }
        if (cause instanceof ConnectException) {
            String msg = String.valueOf(cause.getMessage());
            return msg.contains("timed out") ? Outcome.CONNECT_TIMEOUT : Outcome.REFUSED;
        }
        return Outcome.ERROR;
    }
}
