package io.nodemesh.proxy.relay;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.Future;
import io.nodemesh.proxy.model.Outcome;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection (outcome {@link Outcome#IDLE_TIMEOUT}) when nothing was read from or
 * flushed to its downstream side for the idle timeout; every byte either way passes there.
 *
 * <p>Netty's {@code IdleStateHandler} watches writes with a listener on every write promise,
 * which allocates once per forwarded read; this handler only stamps the time once per read batch
 * and once per flush, and keeps one timer per connection.
 */
public final class IdleTimeout extends ChannelDuplexHandler {

    private final Connection connection;
    private final long timeoutNanos;
    private long lastActivity;
    private Future<?> check;

    public IdleTimeout(Connection connection, long timeoutMillis) {
        this.connection = connection;
        this.timeoutNanos = TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        lastActivity = ctx.executor().ticker().nanoTime();
        schedule(ctx, timeoutNanos);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        cancel();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        cancel();
        ctx.fireChannelInactive();
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        lastActivity = ctx.executor().ticker().nanoTime();
        ctx.fireChannelReadComplete();
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        lastActivity = ctx.executor().ticker().nanoTime();
        ctx.flush();
    }

    private void schedule(ChannelHandlerContext ctx, long delayNanos) {
        check = ctx.executor().schedule(() -> expire(ctx), delayNanos, TimeUnit.NANOSECONDS);
    }

    private void expire(ChannelHandlerContext ctx) {
        if (!ctx.channel().isOpen()) {
            return;
        }
        long idleFor = ctx.executor().ticker().nanoTime() - lastActivity;
        if (idleFor >= timeoutNanos) {
            connection.close(Outcome.IDLE_TIMEOUT);
        } else {
            schedule(ctx, timeoutNanos - idleFor);
        }
    }

    private void cancel() {
        if (check != null) {
            check.cancel(false);
            check = null;
        }
    }
}
