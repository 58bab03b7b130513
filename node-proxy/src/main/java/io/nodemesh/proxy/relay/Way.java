package io.nodemesh.proxy.relay;

import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;

/**
 * How a captured connection reaches its destination, decided from its source and original destination before any
 * upstream socket is made ({@link CapturedUpstream#way}), so that a plain way can be relayed between two sockets
 * ({@link SocketConnection}) and the others through Netty's channels ({@link ChannelConnection}).
 */
public sealed interface Way {

    /** How the connection crosses between the proxies, to record on it; null where the upstream records its own. */
    ConnectionPath path();

    /** What to run once the connection's downstream has closed (an endpoint's load lease), or null. */
    Runnable onClose();

    /** Plain TCP to {@code address}, from the pod through {@code via}. */
    record Plain(PlainUpstream via, InetSocketAddress address, ConnectionPath path, Runnable onClose) implements Way {
    }

    /** A stream on the source pod's mutual-TLS tunnel to {@code address}, whose server must prove {@code identity}. */
    record Tunnel(SpiffeId identity, InetSocketAddress address, Runnable onClose) implements Way {
        @Override
        public ConnectionPath path() {
            return null; // the tunnel's stream records its own, once it is open
        }
    }

    /** Not allowed: the client is reset without an upstream socket ({@link RouteDenied}, {@code Outcome.DENIED}). */
    record Refused(String reason, ConnectionPath path) implements Way {
        @Override
        public Runnable onClose() {
            return null;
        }
    }

    /** Records {@code way}'s path on {@code connection} and has its close action run when the downstream closes. */
    static void begin(Connection connection, Way way) {
        if (way.path() != null) {
            connection.path(way.path());
        }
        Runnable onClose = way.onClose();
        if (onClose != null) {
            connection.whenDownstreamCloses(onClose);
        }
    }
}
