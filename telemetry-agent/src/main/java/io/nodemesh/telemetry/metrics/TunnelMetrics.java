package io.nodemesh.telemetry.metrics;

import io.nodemesh.telemetry.v1.HandshakeFailure;
import io.nodemesh.telemetry.v1.HandshakeFailureCount;
import io.nodemesh.telemetry.v1.StreamStatusCount;
import io.nodemesh.telemetry.v1.TunnelConnectFailure;
import io.nodemesh.telemetry.v1.TunnelConnectFailureCount;
import io.nodemesh.telemetry.v1.TunnelTotals;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The mutual-TLS tunnel's own counters from the proxies' reports: {@code nodemesh_tunnel_connections_total{side}},
 * {@code nodemesh_tunnel_connection_failures_total{reason}} (the client side's),
 * {@code nodemesh_tunnel_handshake_failures_total{reason}} (the server side's refusals),
 * {@code nodemesh_tunnel_streams_opened_total} (client), {@code nodemesh_tunnel_streams_answered_total{status}}
 * (server), and the gauge {@code nodemesh_tunnel_pooled_connections}.
 *
 * <p>Reporters send running totals, each counted once ({@link RunningTotals}). The gauge is the sum of what the open
 * report streams said last; a stream's share goes with it, and with no stream holding one there is no sample at all.
 * Thread-safe.
 */
public final class TunnelMetrics {

    private final RunningTotals connections;
    private final RunningTotals connectionFailures;
    private final RunningTotals handshakeFailures;
    private final RunningTotals streamsOpened;
    private final RunningTotals streamsAnswered;
    private final Map<Object, Integer> pooledByStream = new ConcurrentHashMap<>();

    public TunnelMetrics(PrometheusRegistry registry) {
        Counter connected = counter(registry, "nodemesh_tunnel_connections",
                "Tunnel connections: made by this node's proxy (side=client) or accepted by it (side=server).", "side");
        connected.initLabelValues("client");
        connected.initLabelValues("server");
        connections = new RunningTotals(connected);
        Counter failed = counter(registry, "nodemesh_tunnel_connection_failures",
                "Tunnel connections this node's proxy could not make, by reason.", "reason");
        for (TunnelConnectFailure reason : TunnelConnectFailure.values()) {
            if (reason != TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_UNSPECIFIED
                    && reason != TunnelConnectFailure.UNRECOGNIZED) {
                failed.initLabelValues(label(reason));
            }
        }
        connectionFailures = new RunningTotals(failed);
        Counter refused = counter(registry, "nodemesh_tunnel_handshake_failures",
                "Clients' TLS handshakes this node's tunnel servers refused, by reason.", "reason");
        for (HandshakeFailure reason : HandshakeFailure.values()) {
            if (reason != HandshakeFailure.HANDSHAKE_FAILURE_UNSPECIFIED && reason != HandshakeFailure.UNRECOGNIZED) {
                refused.initLabelValues(label(reason));
            }
        }
        handshakeFailures = new RunningTotals(refused);
        Counter opened = counter(registry, "nodemesh_tunnel_streams_opened",
                "Tunnel streams this node's proxy opened for app connections.");
        opened.initLabelValues();
        streamsOpened = new RunningTotals(opened);
        streamsAnswered = new RunningTotals(counter(registry, "nodemesh_tunnel_streams_answered",
                "Tunnel streams this node's tunnel servers answered, by HTTP status (other: any status not counted "
                        + "apart).", "status"));
        GaugeWithCallback.builder().name("nodemesh_tunnel_pooled_connections")
                .help("Tunnel connections this node's proxy holds in its pools now.")
                .callback(cb -> {
                    if (!pooledByStream.isEmpty()) {
                        cb.call(pooledByStream.values().stream().mapToLong(Integer::longValue).sum());
                    }
                })
                .register(registry);
    }

    private static Counter counter(PrometheusRegistry registry, String name, String help, String... labels) {
        return Counter.builder().name(name).help(help).labelNames(labels).withoutExemplars().register(registry);
    }

    /** Takes the totals a stream of {@code reporterId} just sent (validated). */
    public void update(Object stream, String reporterId, TunnelTotals totals) {
        connections.add(reporterId, totals.getClientConnections(), "client");
        connections.add(reporterId, totals.getServerConnections(), "server");
        for (TunnelConnectFailureCount count : totals.getConnectionFailuresList()) {
            connectionFailures.add(reporterId, count.getTotal(), label(count.getReason()));
        }
        for (HandshakeFailureCount count : totals.getHandshakeFailuresList()) {
            handshakeFailures.add(reporterId, count.getTotal(), label(count.getReason()));
        }
        streamsOpened.add(reporterId, totals.getClientStreams());
        for (StreamStatusCount count : totals.getServerStreamsList()) {
            streamsAnswered.add(reporterId, count.getTotal(),
                    count.getStatus() == 0 ? "other" : Integer.toString(count.getStatus()));
        }
        pooledByStream.put(stream, totals.getPooledConnections());
    }

    /** The stream ended: its pooled connections no longer count. */
    public void forget(Object stream) {
        pooledByStream.remove(stream);
    }

    /** {@code connect_timeout}: the enum's name without its prefix, in lower case. */
    static String label(TunnelConnectFailure reason) {
        return reason.name().substring("TUNNEL_CONNECT_FAILURE_".length()).toLowerCase(Locale.ROOT);
    }

    /** {@code untrusted_ca}: the enum's name without its prefix, in lower case. */
    static String label(HandshakeFailure reason) {
        return reason.name().substring("HANDSHAKE_FAILURE_".length()).toLowerCase(Locale.ROOT);
    }
}
