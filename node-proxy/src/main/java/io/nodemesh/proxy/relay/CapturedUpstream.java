package io.nodemesh.proxy.relay;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;

/**
 * The upstream of a capture listener (outbound: the route decision; inbound: the pod's policies): decides each
 * connection's {@link Way} from its source and original destination before a socket is made, then connects a channel
 * along it. A plain way on epoll is connected by the {@link SocketConnection} itself.
 */
public interface CapturedUpstream extends Upstream {

    /** The way for a connection from {@code source} to {@code destination}, on the snapshot in force. */
    Way way(InetSocketAddress source, InetSocketAddress destination);

    /** Connects {@code connection}'s upstream channel along {@code way}, as {@link Upstream#connect} describes. */
    ChannelFuture connect(ChannelConnection connection, Way way, EventLoop loop, ChannelHandler handler);

    @Override
    default ChannelFuture connect(ChannelConnection connection, EventLoop loop, ChannelHandler handler) {
        Way way = way(connection.source(), connection.destination());
        Way.begin(connection, way);
        return connect(connection, way, loop, handler);
    }
}
