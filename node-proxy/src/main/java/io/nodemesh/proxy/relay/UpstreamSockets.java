package io.nodemesh.proxy.relay;

import io.netty.channel.unix.Socket;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * The upstream sockets of a pod's {@link SocketConnection}s: made in the pod's network namespace with the proxy's mark
 * (so its rules let them through) and TCP keepalive as the settings say, as its upstream channels are.
 */
public interface UpstreamSockets {

    /**
     * A new non-blocking TCP socket for a connection to {@code destination}, not connected yet.
     *
     * @throws IOException when it cannot be made or marked; nothing was sent then
     */
    Socket open(InetSocketAddress destination) throws IOException;

    /** The connect timeout in force, in milliseconds. */
    int connectTimeoutMillis();
}
