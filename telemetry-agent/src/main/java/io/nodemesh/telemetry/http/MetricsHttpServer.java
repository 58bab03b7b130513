package io.nodemesh.telemetry.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.ReadTimeoutHandler;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.nodemesh.telemetry.metrics.IstioMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The agent's small HTTP server (one event-loop thread) for {@code /metrics}, {@code /healthz}
 * and {@code /top}; separate from the report socket so a scrape never delays reports.
 */
public final class MetricsHttpServer implements AutoCloseable {

    private final EventLoopGroup group;
    private final Channel channel;

    private MetricsHttpServer(EventLoopGroup group, Channel channel) {
        this.group = group;
        this.channel = channel;
    }

    /** Binds and starts serving; throws with the address in the message if the bind fails. */
    public static MetricsHttpServer start(InetSocketAddress address, PrometheusRegistry registry,
            IstioMetrics metrics) {
        boolean epoll = Epoll.isAvailable();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("telemetry-http", true),
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        Class<? extends ServerChannel> type = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        MetricsHttpHandler handler = new MetricsHttpHandler(registry, metrics);
        try {
            Channel channel = new ServerBootstrap()
                    .group(group)
                    .channel(type)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline()
                                    .addLast(new ReadTimeoutHandler(60, TimeUnit.SECONDS))
                                    .addLast(new HttpServerCodec(4096, 8192, 8192))
                                    // Only GETs are served: a small body limit keeps memory bounded.
                                    .addLast(new HttpObjectAggregator(8192))
                                    .addLast(handler);
                        }
                    })
                    .bind(address).syncUninterruptibly().channel();
            return new MetricsHttpServer(group, channel);
        } catch (Exception e) { // Netty's bind failure is an IOException it throws undeclared
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw new IllegalStateException("cannot serve /metrics on " + NetUtil.toSocketAddressString(address) + ": "
                    + e.getMessage(), e);
        }
    }

    /** Where the server listens (the real port when started on port 0). */
    public InetSocketAddress address() {
        return (InetSocketAddress) channel.localAddress();
    }

    @Override
    public void close() {
        channel.close().syncUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
