package io.nodemesh.proxy.readiness;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * The readiness probe, {@code GET /healthz/ready} (the kubelet's readinessProbe, port 15021 like Istio's): 200 while
 * the proxy serves, 503 with the reason while it starts or drains. Its own listener and its own thread, so a probe
 * never waits behind an admin request or a data-path loop.
 */
public final class ReadinessServer implements AutoCloseable {

    /** The probe's path. */
    public static final String PATH = "/healthz/ready";

    private final EventLoopGroup group;
    private final Channel channel;

    private ReadinessServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /**
     * Serves {@code readiness} on {@code address} (port 0: any free port).
     *
     * @throws IOException naming the address when it cannot be bound
     */
    public static ReadinessServer start(InetSocketAddress address, Readiness readiness) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("nodemesh-readiness", true),
                NioIoHandler.newFactory());
        var bound = new ServerBootstrap()
                .group(group)
                .channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1024), new Probe(readiness));
                    }
                })
                .bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IOException("cannot serve the readiness probe on " + address + ": " + bound.cause().getMessage(),
                    bound.cause());
        }
        return new ReadinessServer(group, bound.channel());
    }

    /** The bound address (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** Answers the probe from the state at the moment it asks. */
    private static final class Probe extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final Readiness readiness;

        Probe(Readiness readiness) {
            this.readiness = readiness;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            String path = new QueryStringDecoder(request.uri()).path();
            HttpResponseStatus status;
            String body;
            if (!path.equals(PATH)) {
                status = HttpResponseStatus.NOT_FOUND;
                body = "no such page: " + path + " (the probe is " + PATH + ")\n";
            } else {
                status = switch (readiness.state()) {
                    case READY -> HttpResponseStatus.OK;
                    case STARTING, DRAINING -> HttpResponseStatus.SERVICE_UNAVAILABLE;
                };
                body = switch (readiness.state()) {
                    case READY -> "ready\n";
                    case STARTING -> "not ready: starting (the pods are not reconciled yet)\n";
                    case DRAINING -> "not ready: draining\n";
                };
            }
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                    Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
            HttpUtil.setContentLength(response, response.content().readableBytes());
            // One answer per connection, as the kubelet probes: no idle connection outlives the proxy's state.
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
