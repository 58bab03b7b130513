package io.nodemesh.bench.load;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.atomic.LongAdder;

/** Serves {@link ServerMode#SINK}: reads and discards; the connection closes when the client's FIN arrives. */
@ChannelHandler.Sharable
final class SinkHandler extends ChannelInboundHandlerAdapter {

    private final LongAdder bytesRead;

    SinkHandler(LongAdder bytesRead) {
        this.bytesRead = bytesRead;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        bytesRead.add(in.readableBytes());
        in.release();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
