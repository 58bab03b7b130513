package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.ConnectionPath;
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
 * @param path how it crosses between the proxies and who its ends are, as far as known when this record was made, or
 *        null: not known yet (an outbound connection's route is decided after its opening is reported) or never
 */
public record OpenedConnection(
        Direction direction,
        String podNamespace,
        String podName,
        String podServiceAccount,
        InetSocketAddress source,
        InetSocketAddress destination,
        long openedAtEpochMillis,
        ConnectionPath path) implements ConnectionEvent {

    /** A connection whose path is not known (every outbound one, as its opening is known). */
    public OpenedConnection(Direction direction, String podNamespace, String podName, String podServiceAccount,
            InetSocketAddress source, InetSocketAddress destination, long openedAtEpochMillis) {
        this(direction, podNamespace, podName, podServiceAccount, source, destination, openedAtEpochMillis, null);
    }

    /** Whether it is known to ride a mutual-TLS tunnel connection (inbound: came through this pod's tunnel server). */
    public boolean mutualTls() {
        return path != null && path.mutualTls();
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
