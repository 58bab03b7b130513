package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;

/**
 * The {@link ConnectionPath} of a tunnel connection, on either side: made once, when its security has proved the peer,
 * and kept on the connection's channel for every stream it carries, so a stream's app connection learns who its ends
 * are without an allocation of its own.
 */
final class TunnelPath {

    private static final AttributeKey<ConnectionPath> KEY = AttributeKey.valueOf(TunnelPath.class, "path");

    private TunnelPath() {
    }

    /** Records {@code connection}'s path once its security proved the peer; call before it carries a stream. */
    static void established(Channel connection, TunnelSecurity security, SpiffeId source, SpiffeId destination) {
        InetSocketAddress far = connection.remoteAddress() instanceof InetSocketAddress a ? a : new InetSocketAddress(0);
        connection.attr(KEY).set(ConnectionPath.tunnel(far, security.mutualTls(), source, destination));
    }

    /** The path of the tunnel connection the stream {@code stream} rides on, or null if that connection's peer was never proved. */
    static ConnectionPath of(Channel stream) {
        return stream.parent().attr(KEY).get();
    }
}
