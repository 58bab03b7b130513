package io.nodemesh.bench.load;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.util.concurrent.TimeUnit;

/**
 * Serves {@link ServerMode#RR}: counts request bytes and answers each complete request with one
 * response, in order. Responses are retained duplicates of one shared pooled buffer, so nothing is
 * allocated per request beyond Netty's recycled wrappers. One instance per channel.
 */
final class RequestResponseHandler extends ChannelInboundHandlerAdapter {

    private final int requestSize;
    private final ByteBuf response;
    private final StallPlan stallPlan;
    private int positionInRequest;
    private boolean currentRequestCloses;
    private boolean closeRequested;
    private int owedResponses;
    private boolean stalled;

    RequestResponseHandler(int requestSize, ByteBuf response, StallPlan stallPlan) {
        this.requestSize = requestSize;
        this.response = response;
        this.stallPlan = stallPlan;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        try {
            // Bytes after a complete close request are ignored: the client promised to send nothing more.
            while (in.isReadable() && !closeRequested) {
                if (positionInRequest == 0) {
                    currentRequestCloses = in.getByte(in.readerIndex()) == LoadProtocol.CLOSE_AFTER_RESPONSE;
                }
                int n = Math.min(in.readableBytes(), requestSize - positionInRequest);
                in.skipBytes(n);
                positionInRequest += n;
                if (positionInRequest == requestSize) {
                    positionInRequest = 0;
                    owedResponses++;
                    closeRequested = currentRequestCloses;
                    if (stallPlan.shouldStall()) {
                        stalled = true;
                        ctx.executor().schedule(() -> {
                            stalled = false;
                            answerOwed(ctx);
                        }, stallPlan.stallNanos(), TimeUnit.NANOSECONDS);
                    }
                }
            }
        } finally {
            in.release();
        }
        if (!stalled) {
            answerOwed(ctx);
        }
    }

    private void answerOwed(ChannelHandlerContext ctx) {
        if (owedResponses == 0 || !ctx.channel().isActive()) {
            return;
        }
        for (; owedResponses > 0; owedResponses--) {
            ctx.write(response.retainedDuplicate(), ctx.voidPromise());
        }
        if (closeRequested) {
            ctx.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            ctx.flush();
        }
        // Back-pressure: a pipelining client may outrun the socket; stop reading until it drains.
        if (!ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (ctx.channel().isWritable()) {
            ctx.channel().config().setAutoRead(true);
        }
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close(); // a reset by the client is part of the load, not news
    }
}
