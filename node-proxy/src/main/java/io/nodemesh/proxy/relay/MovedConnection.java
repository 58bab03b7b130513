package io.nodemesh.proxy.relay;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.Direction;
import java.net.InetSocketAddress;

/**
 * A plain relay taken out of one proxy to be resumed by the next (docs/upgrade.md): its two TCP sockets as
 * descriptors this process owns until it {@link #close closes} them or a relay takes them, and what telemetry needs
 * to report the connection once, when it ends, as if it had never moved.
 *
 * @param pod the captured pod's key, {@code namespace/name}
 * @param path how it crosses between proxies; always {@code plaintext} (a tunnel stream cannot move)
 */
public record MovedConnection(String pod, Direction direction, InetSocketAddress source, InetSocketAddress destination,
                              ConnectionPath path, long openedAtMillis, long bytesFromSource, long bytesToSource,
                              int downstreamFd, int upstreamFd) {

    /** Closes both descriptors: after they were sent (the receiver holds its own), or when they cannot be. */
    public void close() {
        Descriptors.close(downstreamFd);
        Descriptors.close(upstreamFd);
    }
}
