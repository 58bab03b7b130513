package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.Direction;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * A connection the proxy just accepted and whose original destination it knows: reported at once so
 * {@code istio_tcp_connections_opened_total} moves when a connection opens, not when it ends.
 *
 * @param direction which capture listener accepted it
 * @param podNamespace Kubernetes namespace of the captured pod the connection belongs to
 * @param podName name of that pod
 * @param podServiceAccount service account of that pod
 * @param source the peer that opened the connection
 * @param destination the original destination (before REDIRECT)
 * @param openedAtEpochMillis wall-clock time the connection was accepted
 * @param mutualTls whether it came through this pod's mutual-TLS tunnel server (inbound only: an outbound one's
 *        route is decided after it is reported)
 */
public record OpenedConnection(
        Direction direction,
        String podNamespace,
        String podName,
        String podServiceAccount,
        InetSocketAddress source,
        InetSocketAddress destination,
        long openedAtEpochMillis,
        boolean mutualTls) implements ConnectionEvent {

    /** A connection that did not come through the mutual-TLS tunnel (every outbound one, as its opening is known). */
    public OpenedConnection(Direction direction, String podNamespace, String podName, String podServiceAccount,
            InetSocketAddress source, InetSocketAddress destination, long openedAtEpochMillis) {
        this(direction, podNamespace, podName, podServiceAccount, source, destination, openedAtEpochMillis, false);
    }

    public OpenedConnection {
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(podNamespace, "podNamespace");
        Objects.requireNonNull(podName, "podName");
        Objects.requireNonNull(podServiceAccount, "podServiceAccount");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(destination, "destination");
    }
}
