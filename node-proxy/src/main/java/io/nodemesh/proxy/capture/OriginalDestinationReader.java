package io.nodemesh.proxy.capture;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.nodemesh.linux.NativeException;
import io.nodemesh.proxy.relay.ChannelConnection;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * First handler on an accepted capture connection: asks the kernel where the connection was headed
 * before it was redirected (SO_ORIGINAL_DST), records it on the {@link Connection} and gets out of
 * the way. A connection that was not redirected (someone dialled the capture port itself: no conntrack
 * entry, or one without translation) is closed and counted.
 */
public final class OriginalDestinationReader extends ChannelInboundHandlerAdapter {

    private final ChannelConnection connection;
    private final OriginalDestinationLookup lookup;

    public OriginalDestinationReader(ChannelConnection connection, OriginalDestinationLookup lookup) {
        this.connection = connection;
        this.lookup = lookup;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        InetSocketAddress destination;
        try {
            destination = lookup.originalDestination(ctx.channel());
        } catch (NativeException e) {
            connection.notRedirected(e.errno() == NativeException.ENOENT
                    ? "not redirected (no original destination)" : e.getMessage());
            return;
        } catch (IOException e) {
            connection.notRedirected(e.getMessage());
            return;
        }
        if (destination.equals(ctx.channel().localAddress())) {
            // conntrack answers for untranslated connections too, with the address they were sent to:
            // relaying that would connect the proxy to itself, over and over.
            connection.notRedirected("not redirected (addressed to the capture port itself)");
            return;
        }
        connection.opened(destination);
        ctx.pipeline().remove(this);
        ctx.fireChannelActive();
    }
}
