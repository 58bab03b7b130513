package io.nodemesh.proxy.relay;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;

/**
 * Put first in an {@link io.netty.channel.embedded.EmbeddedChannel}'s pipeline, makes it behave like a socket whose
 * send buffer is full: writes queue in the channel's outbound buffer (and count against its write-buffer water
 * marks) but nothing is sent until {@link #drain()}.
 */
final class StalledSend extends ChannelOutboundHandlerAdapter {

    private ChannelHandlerContext ctx;
    private boolean stalled = true;

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (!stalled) {
            ctx.flush();
        }
    }

    /** The peer reads again: everything queued is sent, and so is whatever comes later. */
    void drain() {
        stalled = false;
        ctx.flush();
    }
}
