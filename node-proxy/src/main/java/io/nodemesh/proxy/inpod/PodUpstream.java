package io.nodemesh.proxy.inpod;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.Upstream;
import java.net.InetSocketAddress;
import java.util.function.Function;

/**
 * A plain TCP connect from a pod: the socket is created inside the pod's network namespace and carries the proxy's
 * mark, so the pod's rules let it through uncaptured (both are the bootstrap's business, {@link PodCapture}).
 */
public final class PodUpstream implements Upstream {

    private final Function<EventLoop, Bootstrap> bootstrap;

    /**
     * @param bootstrap the bootstrap for a connect on an event loop, its group that loop, configured for the pod
     *        (namespace, mark, connect timeout, AUTO_READ off); asked for once per connect, which sets its handler
     */
    public PodUpstream(Function<EventLoop, Bootstrap> bootstrap) {
        this.bootstrap = bootstrap;
    }

    /** Connects to the connection's original destination. */
    @Override
    public ChannelFuture connect(Connection connection, EventLoop loop, ChannelHandler handler) {
        return connect(connection, connection.destination(), loop, handler);
    }

    /** Connects to {@code address}, which a route decision may have chosen in place of the original destination. */
    public ChannelFuture connect(Connection connection, InetSocketAddress address, EventLoop loop, ChannelHandler handler) {
        ChannelFuture connect = bootstrap.apply(loop).handler(handler).connect(address);
        connection.upstreamConnecting(connect.channel());
        return connect;
    }
}
