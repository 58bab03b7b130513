package io.nodemesh.proxy.relay;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.util.concurrent.Future;
import io.nodemesh.proxy.model.Outcome;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection (outcome {@link Outcome#IDLE_TIMEOUT}) once nothing was read from or flushed to its downstream
 * side for the idle timeout; every byte either way passes there. It closes between the timeout and a quarter of it
 * later, never before.
 *
 * <p>What a read or a flush does here is set a flag: a timer looks at it {@value #CHECKS} times per timeout and
 * closes the connection after {@value #CHECKS} looks in a row that found it unset. Reading the clock on every read
 * and flush instead cost about a quarter of the relay's own time per forwarded read (RESULTS.md, the relay's per-read
 * path). Netty's {@code IdleStateHandler} is no better: it listens on every write promise, which allocates once per
 * forwarded read. One repeating timer per connection.
 */
public final class IdleTimeout extends ChannelDuplexHandler {

    /** Looks per timeout: a connection idle for the timeout is closed within 1/CHECKS of it. */
    static final int CHECKS = 4;

    private final ChannelConnection connection;
    private final long checkNanos;
    private boolean active;
    private int quietChecks;
    private Future<?> check;

    public IdleTimeout(ChannelConnection connection, long timeoutMillis) {
        this.connection = connection;
        this.checkNanos = Math.max(1, TimeUnit.MILLISECONDS.toNanos(timeoutMillis) / CHECKS);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        check = ctx.executor().scheduleAtFixedRate(() -> look(ctx), checkNanos, checkNanos, TimeUnit.NANOSECONDS);
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
        active = true;
        ctx.fireChannelReadComplete();
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        active = true;
        ctx.flush();
    }

    private void look(ChannelHandlerContext ctx) {
        if (!ctx.channel().isOpen()) {
            cancel();
            return;
        }
        if (active) {
            active = false;
            quietChecks = 0;
        } else if (++quietChecks >= CHECKS) {
            cancel();
            connection.close(Outcome.IDLE_TIMEOUT);
        }
    }

    private void cancel() {
        if (check != null) {
            check.cancel(false);
            check = null;
        }
    }
}
