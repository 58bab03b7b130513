package io.nodemesh.proxy.tunnel;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2PingFrame;
import io.netty.util.concurrent.Future;
import io.nodemesh.proxy.relay.CarrierLoss;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/2 PING liveness of a pooled tunnel connection: when nothing was read for the ping interval a PING goes out, and
 * when nothing at all (its ACK or anything else) comes back within the timeout the peer is taken for dead and the
 * connection closed, so its streams end and no new stream is put on it. Sits below HTTP/2 and watches the bytes read,
 * so a busy connection is never pinged; one timer per connection. A read only sets a flag, which the timer looks at
 * (reading the clock on every read cost more than the rest of the check): times are taken at the timer's ticks, so a
 * PING may go out up to a tick (half the shorter of interval and timeout) later than the interval.
 */
final class Liveness extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(Liveness.class);

    private final long intervalNanos;
    private final long timeoutNanos;
    private long lastRead;
    private boolean readSinceTick;
    private long pingSentAt;
    private boolean awaitingAnswer;
    private Future<?> tick;

    Liveness(Duration interval, Duration timeout) {
        this.intervalNanos = interval.toNanos();
        this.timeoutNanos = timeout.toNanos();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (ctx.channel().isActive()) {
            start(ctx);
        }
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        start(ctx);
        ctx.fireChannelActive();
    }

    private void start(ChannelHandlerContext ctx) {
        if (tick != null) {
            return;
        }
        lastRead = System.nanoTime();
        long period = Math.max(1, Math.min(intervalNanos, timeoutNanos) / 2);
        tick = ctx.executor().scheduleWithFixedDelay(() -> check(ctx), period, period, TimeUnit.NANOSECONDS);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        readSinceTick = true;
        ctx.fireChannelRead(msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        stop();
        ctx.fireChannelInactive();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        stop();
    }

    private void check(ChannelHandlerContext ctx) {
        long now = System.nanoTime();
        if (readSinceTick) {
            readSinceTick = false;
            lastRead = now;
            awaitingAnswer = false;
        }
        if (awaitingAnswer) {
            if (now - pingSentAt >= timeoutNanos) {
                log.debug("tunnel to {}: no answer to PING within {} ms, closing", ctx.channel().remoteAddress(),
                        TimeUnit.NANOSECONDS.toMillis(timeoutNanos));
                stop();
                CarrierLoss.unanswered(ctx.channel());
                ctx.close();
            }
        } else if (now - lastRead >= intervalNanos) {
            awaitingAnswer = true;
            pingSentAt = now;
            // From the tail, so it passes through HTTP/2 above this handler.
            ctx.channel().writeAndFlush(new DefaultHttp2PingFrame(now), ctx.channel().voidPromise());
        }
    }

    private void stop() {
        if (tick != null) {
            tick.cancel(false);
        }
    }
}
