package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.HandshakeFailure;
import io.nodemesh.proxy.stats.TunnelStats;
import io.nodemesh.telemetry.v1.HandshakeFailureCount;
import io.nodemesh.telemetry.v1.StreamStatusCount;
import io.nodemesh.telemetry.v1.TunnelConnectFailure;
import io.nodemesh.telemetry.v1.TunnelConnectFailureCount;
import io.nodemesh.telemetry.v1.TunnelTotals;
import java.util.Map;

/** Writes the tunnel's {@link TunnelStats.Totals} as the report protocol's {@link TunnelTotals}. */
final class TunnelMessages {

    private TunnelMessages() {
    }

    static TunnelTotals of(TunnelStats.Totals totals) {
        TunnelTotals.Builder out = TunnelTotals.newBuilder()
                .setClientConnections(totals.clientConnections())
                .setClientStreams(totals.clientStreams())
                .setServerConnections(totals.serverConnections())
                .setPooledConnections(totals.pooledConnections());
        for (Map.Entry<TunnelStats.Failure, Long> e : totals.connectionFailures().entrySet()) {
            out.addConnectionFailures(TunnelConnectFailureCount.newBuilder().setReason(reason(e.getKey()))
                    .setTotal(e.getValue()));
        }
        for (Map.Entry<HandshakeFailure, Long> e : totals.handshakeFailures().entrySet()) {
            out.addHandshakeFailures(HandshakeFailureCount.newBuilder().setReason(reason(e.getKey()))
                    .setTotal(e.getValue()));
        }
        for (Map.Entry<Integer, Long> e : totals.serverStreams().entrySet()) {
            out.addServerStreams(StreamStatusCount.newBuilder().setStatus(e.getKey()).setTotal(e.getValue()));
        }
        return out.build();
    }

    private static TunnelConnectFailure reason(TunnelStats.Failure failure) {
        return switch (failure) {
            case CONNECT_TIMEOUT -> TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_CONNECT_TIMEOUT;
            case REFUSED -> TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_REFUSED;
            case HANDSHAKE -> TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_HANDSHAKE;
            case CLOSED -> TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_CLOSED;
            case ERROR -> TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_ERROR;
        };
    }

    private static io.nodemesh.telemetry.v1.HandshakeFailure reason(HandshakeFailure failure) {
        return switch (failure) {
            case NO_CLIENT_CERTIFICATE -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_NO_CLIENT_CERTIFICATE;
            case UNTRUSTED_CA -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_UNTRUSTED_CA;
            case EXPIRED -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_EXPIRED;
            case TRUST_DOMAIN -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_TRUST_DOMAIN;
            case BAD_IDENTITY -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_BAD_IDENTITY;
            case UNEXPECTED_IDENTITY -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_UNEXPECTED_IDENTITY;
            case NOT_TLS -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_NOT_TLS;
            case OTHER -> io.nodemesh.telemetry.v1.HandshakeFailure.HANDSHAKE_FAILURE_OTHER;
        };
    }
}
