package io.nodemesh.bench.harness;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetSocketAddress;
import java.util.Arrays;

/**
 * The benchmark's upstream: a one-thread Netty HTTP/1.1 keep-alive server answering every request
 * with the same body. It runs as its own JVM in the server pod so that its CPU is not the
 * harness's. Usage: {@code BenchHttpServer <listen-host> <port> <body-bytes>}.
 */
public final class BenchHttpServer {

    private BenchHttpServer() {
    }

    /** Serves until killed. */
    public static void main(String[] args) throws InterruptedException {
        if (args.length != 3) {
            System.err.println("usage: BenchHttpServer <listen-host> <port> <body-bytes>");
            System.exit(2);
        }
        InetSocketAddress listen = new InetSocketAddress(args[0], Integer.parseInt(args[1]));
        byte[] body = new byte[Integer.parseInt(args[2])];
        Arrays.fill(body, (byte) 'x');
        // One shared read-only body; each response sends a duplicate, so nothing is copied per request.
        ByteBuf content = Unpooled.unreleasableBuffer(Unpooled.directBuffer(body.length).writeBytes(body).asReadOnly());

        IoHandlerFactory io = NioIoHandler.newFactory();
        Class<? extends ServerChannel> channel = NioServerSocketChannel.class;
        boolean epoll = false;
        try {
            // node-proxy has Netty's epoll only at runtime scope (as the Netty BOM declares it), so it is
            // looked up by name; the upstream should be as cheap as possible for every subject alike.
            if ((Boolean) Class.forName("io.netty.channel.epoll.Epoll").getMethod("isAvailable").invoke(null)) {
                io = (IoHandlerFactory) Class.forName("io.netty.channel.epoll.EpollIoHandler").getMethod("newFactory").invoke(null);
                channel = Class.forName("io.netty.channel.epoll.EpollServerSocketChannel").asSubclass(ServerChannel.class);
                epoll = true;
            }
        } catch (ReflectiveOperationException | LinkageError e) {
            System.out.println("epoll unavailable, serving with NIO: " + e);
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, io);
        try {
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(channel)
                    .option(ChannelOption.SO_BACKLOG, 1024)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(new HttpServerCodec(), new Responder(content));
                        }
                    })
                    .bind(listen).sync().channel();
            System.out.println("listening on " + server.localAddress() + (epoll ? " (epoll)" : " (nio)"));
            server.closeFuture().sync();
        } finally {
            group.shutdownGracefully();
        }
    }

    /** Answers each request head with the fixed body; ignores request bodies (wrk sends none). */
    @ChannelHandler.Sharable
    private static final class Responder extends SimpleChannelInboundHandler<HttpObject> {

        private final ByteBuf content;

        Responder(ByteBuf content) {
            this.content = content;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (!(msg instanceof HttpRequest request)) {
                return;
            }
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                    content.duplicate());
            response.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_OCTET_STREAM)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, content.readableBytes());
            if (HttpUtil.isKeepAlive(request)) {
                ctx.write(response);
            } else {
                ctx.write(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            // One flush per read batch: pipelined requests share a syscall.
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
