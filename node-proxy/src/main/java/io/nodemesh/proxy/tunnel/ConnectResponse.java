package io.nodemesh.proxy.tunnel;

import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2ResetFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Promise;
import io.nodemesh.proxy.config.HostPort;
import java.net.Inet6Address;
import java.net.InetSocketAddress;

/**
 * The client's side of one tunnel stream until the server answers: sends {@code CONNECT} with {@code :authority} =
 * the destination and {@code forwarded: for=} the app's client, waits for the answer, and on 200 stops reading, puts the
 * relay's handler last and hands the stream over. Any other answer, a reset or the stream's end fails the open with
 * {@link TunnelRefused}.
 */
final class ConnectResponse extends ChannelInboundHandlerAdapter {

    private final InetSocketAddress destination;
    private final InetSocketAddress client;
    private final ChannelHandler relay;
    private final Promise<Http2StreamChannel> result;

    ConnectResponse(InetSocketAddress destination, InetSocketAddress client, ChannelHandler relay,
                    Promise<Http2StreamChannel> result) {
        this.destination = destination;
        this.client = client;
        this.relay = relay;
        this.result = result;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        Http2Headers headers = new DefaultHttp2Headers()
                .method(HttpMethod.CONNECT.asciiName())
                .authority(HostPort.format(destination));
        if (client != null && client.getAddress() != null) {
            headers.set("forwarded", forwardedFor(client));
        }
        ctx.writeAndFlush(new DefaultHttp2HeadersFrame(headers, false)).addListener(sent -> {
            if (!sent.isSuccess()) {
                fail(ctx, sent.cause());
            }
        });
        ctx.fireChannelActive();
    }

    /** RFC 7239: {@code for=192.0.2.7}, {@code for="[2001:db8::7]"} (an IPv6 address is quoted and bracketed). */
    static String forwardedFor(InetSocketAddress client) {
        String ip = client.getAddress().getHostAddress();
        return client.getAddress() instanceof Inet6Address ? "for=\"[" + ip + "]\"" : "for=" + ip;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof Http2HeadersFrame answer)) {
            ReferenceCountUtil.release(msg); // nothing may come before the answer
            return;
        }
        CharSequence status = answer.headers().status();
        if (status != null && "200".contentEquals(status)) {
            Http2StreamChannel stream = (Http2StreamChannel) ctx.channel();
            stream.config().setAutoRead(false); // until the relay starts
            ctx.pipeline().addLast("relay", relay);
            ctx.pipeline().remove(this);
            if (!result.trySuccess(stream)) {
                stream.close();
            }
            return;
        }
        int code = 0;
        try {
            code = status == null ? 0 : Integer.parseInt(status.toString());
        } catch (NumberFormatException notANumber) {
            // an answer without a readable status is no answer
        }
        result.tryFailure(new TunnelRefused(code));
        ctx.close();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof Http2ResetFrame) {
            result.tryFailure(new TunnelRefused(0));
            return;
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        result.tryFailure(new TunnelRefused(0));
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        fail(ctx, cause);
    }

    private void fail(ChannelHandlerContext ctx, Throwable cause) {
        result.tryFailure(cause);
        ctx.close();
    }
}
