package io.nodemesh.bench.load;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Serves {@link ServerMode#SOURCE}: writes retained duplicates of one shared pooled chunk for as
 * long as the channel is writable and resumes when it drains (back-pressure by writability).
 */
final class SourceHandler extends ChannelInboundHandlerAdapter {

    private final ByteBuf chunk;

    SourceHandler(ByteBuf chunk) {
        this.chunk = chunk;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        writeWhileWritable(ctx);
        ctx.fireChannelActive();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        writeWhileWritable(ctx);
        ctx.fireChannelWritabilityChanged();
    }

    private void writeWhileWritable(ChannelHandlerContext ctx) {
        boolean wrote = false;
        while (ctx.channel().isActive() && ctx.channel().isWritable()) {
            ctx.write(chunk.retainedDuplicate(), ctx.voidPromise());
            wrote = true;
        }
        if (wrote) {
            ctx.flush();
        }
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ((ByteBuf) msg).release();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
