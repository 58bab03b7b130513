package io.nodemesh.proxy.inpod;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerAdapter;
import io.netty.channel.EventLoop;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.PlainUpstream;
import io.nodemesh.proxy.relay.UpstreamSockets;
import io.nodemesh.proxy.relay.Upstream;
import java.net.InetSocketAddress;
import java.util.function.Function;

/**
 * A plain TCP connect from a pod: the socket is created inside the pod's network namespace and carries the proxy's
 * mark, so the pod's rules let it through uncaptured (both are the bootstrap's business, {@link PodCapture}).
 */
public final class PodUpstream implements Upstream, PlainUpstream {

    /** What a bootstrap holds between connects in place of the last connection's handler. */
    static final ChannelHandler NO_HANDLER = new NoHandler();

    private final Function<EventLoop, Bootstrap> bootstrap;
    private final UpstreamSockets sockets;

    /**
     * @param bootstrap the bootstrap for a connect on an event loop, its group that loop, configured for the pod
     *        (namespace, mark, connect timeout, AUTO_READ off); asked for once per connect, which sets its handler
     */
    public PodUpstream(Function<EventLoop, Bootstrap> bootstrap) {
        this(bootstrap, null);
    }

    /**
     * @param sockets the same upstream as sockets, for relays below the channel API; null where the transport has
     *        none
     */
    public PodUpstream(Function<EventLoop, Bootstrap> bootstrap, UpstreamSockets sockets) {
        this.bootstrap = bootstrap;
        this.sockets = sockets;
    }

    @Override
    public UpstreamSockets sockets() {
        return sockets;
    }

    /** Connects to the connection's original destination. */
    @Override
    public ChannelFuture connect(ChannelConnection connection, EventLoop loop, ChannelHandler handler) {
        return connect(connection, connection.destination(), loop, handler);
    }

    /** Connects to {@code address}, which a route decision may have chosen in place of the original destination. */
    @Override
    public ChannelFuture connect(ChannelConnection connection, InetSocketAddress address, EventLoop loop, ChannelHandler handler) {
        Bootstrap b = bootstrap.apply(loop);
        ChannelFuture connect = b.handler(handler).connect(address);
        // The connect has put the handler in the new channel's pipeline; a bootstrap kept for the loop
        // (UpstreamBootstraps) must not hold on to it, and to its connection, until the pod's next connect.
        b.handler(NO_HANDLER);
        connection.upstreamConnecting(connect.channel());
        return connect;
    }

    @ChannelHandler.Sharable
    private static final class NoHandler extends ChannelHandlerAdapter {
    }
}
