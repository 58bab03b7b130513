package io.nodemesh.proxy.inpod;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.RecordingListener;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A pod's upstream bootstraps: one per event loop, kept while the connect timeout stays, a copy of its own for a connect
 * asked for from another thread, and none of them holding the last connection's handler after its connect.
 */
class UpstreamBootstrapsTest {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
    private final EventLoop loop = group.next();
    private final AtomicInteger timeout = new AtomicInteger(1000);
    private final UpstreamBootstraps bootstraps = new UpstreamBootstraps(
            new Bootstrap().channel(NioSocketChannel.class).option(ChannelOption.AUTO_READ, false), timeout::get);

    @AfterEach
    void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    private <T> T onLoop(Callable<T> task) throws Exception {
        return loop.submit(task).get(5, TimeUnit.SECONDS);
    }

    @Test
    void aLoopKeepsItsBootstrapUntilTheConnectTimeoutChanges() throws Exception {
        Bootstrap first = onLoop(() -> bootstraps.on(loop));

        assertThat(onLoop(() -> bootstraps.on(loop))).isSameAs(first);
        assertThat(first.config().group()).isSameAs(loop);
        assertThat(first.config().options()).containsEntry(ChannelOption.CONNECT_TIMEOUT_MILLIS, 1000);
        // Asked for from another thread: a copy of its own, so that no two threads share one.
        assertThat(bootstraps.on(loop)).isNotSameAs(first);

        timeout.set(2000);
        Bootstrap second = onLoop(() -> bootstraps.on(loop));
        assertThat(second).isNotSameAs(first);
        assertThat(second.config().options()).containsEntry(ChannelOption.CONNECT_TIMEOUT_MILLIS, 2000);
        assertThat(onLoop(() -> bootstraps.on(loop))).isSameAs(second);
    }

    @Test
    void aKeptBootstrapLetsGoOfTheLastConnectionsHandler() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            InetSocketAddress address = new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getLocalPort());
            PodUpstream upstream = new PodUpstream(bootstraps::on);
            ChannelHandler relay = new ChannelInboundHandlerAdapter();
            ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, new EmbeddedChannel(), new RecordingListener());

            ChannelFuture connect = onLoop(() -> upstream.connect(connection, address, loop, relay));

            assertThat(connect.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(connect.isSuccess()).as("connected: %s", connect.cause()).isTrue();
            assertThat(connect.channel().pipeline().last()).isSameAs(relay);
            assertThat(onLoop(() -> bootstraps.on(loop)).config().handler()).isSameAs(PodUpstream.NO_HANDLER);
            connect.channel().close().sync();
        }
    }
}
