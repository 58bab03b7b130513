package io.nodemesh.proxy.tunnel;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http2.DefaultHttp2WindowUpdateFrame;
import io.netty.handler.codec.http2.Http2Connection;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.flush.FlushConsolidationHandler;

/** The HTTP/2 layer of both ends of a tunnel connection, set from {@link TunnelSettings}. */
final class TunnelCodec {

    private TunnelCodec() {
    }

    /** The client's frame codec: the stream window; the server may not open streams (no push). */
    static Http2FrameCodec client(TunnelSettings settings) {
        Http2Settings local = Http2Settings.defaultSettings()
                .initialWindowSize(settings.streamWindow())
                .pushEnabled(false)
                .maxConcurrentStreams(0);
        // A pooled connection closes only when it is idle or dead: nothing to wait for.
        return Http2FrameCodecBuilder.forClient().initialSettings(local).gracefulShutdownTimeoutMillis(0).build();
    }

    /** The server's frame codec: the stream window and the streams a client may open at once. */
    static Http2FrameCodec server(TunnelSettings settings) {
        Http2Settings local = Http2Settings.defaultSettings()
                .initialWindowSize(settings.streamWindow())
                .maxConcurrentStreams(settings.maxStreamsPerConnection());
        return Http2FrameCodecBuilder.forServer().initialSettings(local).build();
    }

    /**
     * Goes between the connection's security and its frame codec: every stream flushes the connection after each DATA
     * frame, so streams written in one pass of the event loop would each cost a TLS record and a socket write; this
     * holds those flushes until the loop has run its pending work (or, during a read, until the read completes) and
     * flushes once.
     */
    static FlushConsolidationHandler flushes() {
        return new FlushConsolidationHandler(FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true);
    }

    /**
     * Raises the connection's receive window to {@code bytes} once HTTP/2 is up (SETTINGS only sets a stream's; the
     * connection's grows by WINDOW_UPDATE on stream 0). Goes after the frame codec; removes itself.
     */
    static final class ConnectionWindow extends ChannelInboundHandlerAdapter {

        private final int bytes;

        ConnectionWindow(int bytes) {
            this.bytes = bytes;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            if (ctx.channel().isActive()) {
                raise(ctx);
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            raise(ctx);
            ctx.fireChannelActive();
        }

        private void raise(ChannelHandlerContext ctx) {
            Http2Connection connection = ctx.pipeline().get(Http2FrameCodec.class).connection();
            int now = connection.local().flowController().windowSize(connection.connectionStream());
            if (bytes > now) {
                ctx.writeAndFlush(new DefaultHttp2WindowUpdateFrame(bytes - now));
            }
            ctx.pipeline().remove(this);
        }
    }
}
