package io.nodemesh.proxy.relay;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;
import io.nodemesh.proxy.telemetry.ClosedConnection.Outcome;

/**
 * Closes a connection when the {@link io.netty.handler.timeout.IdleStateHandler} before it reports
 * that nothing was read from or written to the downstream side for the idle timeout (which covers
 * both directions: every byte either way is read or written there).
 */
public final class IdleCloser extends ChannelInboundHandlerAdapter {

    private final Connection connection;

    public IdleCloser(Connection connection) {
        this.connection = connection;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof IdleStateEvent) {
            connection.close(Outcome.IDLE_TIMEOUT);
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }
}
