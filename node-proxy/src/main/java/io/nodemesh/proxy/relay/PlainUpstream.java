package io.nodemesh.proxy.relay;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import java.net.InetSocketAddress;

/** Plain TCP from a pod ({@code inpod.PodUpstream}): as a channel, or as a socket for the {@link SocketConnection}. */
public interface PlainUpstream {

    /** Connects a channel to {@code address}, as {@link Upstream#connect} does to the original destination. */
    ChannelFuture connect(ChannelConnection connection, InetSocketAddress address, EventLoop loop,
                          ChannelHandler handler);

    /** The sockets for a relay below the channel API, or null where the transport has none (NIO, io_uring). */
    UpstreamSockets sockets();
}
