package io.nodemesh.proxy.tunnel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.util.ReferenceCountUtil;
import io.nodemesh.proxy.relay.PeerReset;

/**
 * Makes a tunnel stream look like a TCP socket to the relay: DATA frames in are their bytes, the end of the stream is
 * the peer's FIN ({@link ChannelInputShutdownEvent}), an {@code RST_STREAM} is the peer's reset ({@link PeerReset});
 * bytes out become DATA frames. Ownership passes with the frame's content: a DATA frame's buffer goes on, never copied.
 */
final class StreamBytes extends ChannelDuplexHandler {

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof Http2DataFrame data) {
            boolean end = data.isEndStream();
            ByteBuf content = data.content();
            if (content.isReadable()) {
                ctx.fireChannelRead(content);
            } else {
                content.release();
            }
            if (end) {
                ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
            }
            return;
        }
        if (msg instanceof Http2HeadersFrame trailers && trailers.isEndStream()) {
            ctx.fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        }
        ReferenceCountUtil.release(msg);
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame) {
            ctx.fireExceptionCaught(PeerReset.INSTANCE);
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (msg instanceof ByteBuf buf) {
            if (!buf.isReadable()) {
                // The relay's "once flushed" marker: the stream writes in order, nothing to send for it.
                buf.release();
                promise.trySuccess();
                return;
            }
            ctx.write(new DefaultHttp2DataFrame(buf), promise);
            return;
        }
        ctx.write(msg, promise);
    }
}
