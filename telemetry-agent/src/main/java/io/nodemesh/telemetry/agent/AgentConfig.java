package io.nodemesh.telemetry.agent;

import io.nodemesh.telemetry.report.ReportLimits;
import io.nodemesh.telemetry.v1.ReportProtocol;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;

/**
 * Everything a {@link TelemetryAgent} needs, immutable; build with {@link #builder()}.
 *
 * @param socketPath the Unix socket reporters connect to
 * @param metricsAddress where {@code /metrics}, {@code /healthz} and {@code /top} are served
 * @param accessLog where access log lines go: a file, {@code "-"} for stdout, or null for none
 * @param accessLogLinesPerSecond access log rate limit
 * @param maxSeries most Istio label sets, the overflow set included
 * @param allowedPeerUids uids that may report; empty means the agent's own uid and root
 * @param maxInboundMessageBytes largest accepted batch on the wire
 * @param maxStreamsPerConnection concurrent report streams one connection may open
 * @param maxActiveStreams concurrent report streams over all connections
 * @param limits what a batch may contain
 */
public record AgentConfig(
        Path socketPath,
        InetSocketAddress metricsAddress,
        String accessLog,
        double accessLogLinesPerSecond,
        int maxSeries,
        Set<Integer> allowedPeerUids,
        int maxInboundMessageBytes,
        int maxStreamsPerConnection,
        int maxActiveStreams,
        ReportLimits limits) {

    /** Where the DaemonSet mounts the socket. */
    public static final Path DEFAULT_SOCKET = ReportProtocol.DEFAULT_SOCKET;
    /** 0.0.0.0:15020, Istio's merged-metrics port. */
    public static final InetSocketAddress DEFAULT_METRICS_ADDRESS = new InetSocketAddress("0.0.0.0", 15020);

    public AgentConfig {
        Objects.requireNonNull(socketPath, "socketPath");
        Objects.requireNonNull(metricsAddress, "metricsAddress");
        Objects.requireNonNull(limits, "limits");
        allowedPeerUids = Set.copyOf(allowedPeerUids);
        require(accessLogLinesPerSecond > 0, "accessLogLinesPerSecond must be positive: " + accessLogLinesPerSecond);
        require(maxSeries >= 2, "maxSeries must be at least 2: " + maxSeries);
        require(maxInboundMessageBytes >= 1024, "maxInboundMessageBytes must be at least 1024: " + maxInboundMessageBytes);
        require(maxStreamsPerConnection >= 1, "maxStreamsPerConnection must be positive: " + maxStreamsPerConnection);
        require(maxActiveStreams >= 1, "maxActiveStreams must be positive: " + maxActiveStreams);
    }

    private static void require(boolean ok, String message) {
        if (!ok) {
            throw new IllegalArgumentException(message);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds an {@link AgentConfig}; every setting has a production default. */
    public static final class Builder {
        private Path socketPath = DEFAULT_SOCKET;
        private InetSocketAddress metricsAddress = DEFAULT_METRICS_ADDRESS;
        private String accessLog;
        private double accessLogLinesPerSecond = 100;
        private int maxSeries = 10_000;
        private Set<Integer> allowedPeerUids = Set.of();
        private int maxInboundMessageBytes = 4 << 20;
        private int maxStreamsPerConnection = 16;
        private int maxActiveStreams = 256;
        private ReportLimits limits = ReportLimits.DEFAULT;

        private Builder() {
        }

        public Builder socketPath(Path value) { socketPath = value; return this; }
        public Builder metricsAddress(InetSocketAddress value) { metricsAddress = value; return this; }
        public Builder accessLog(String value) { accessLog = value; return this; }
        public Builder accessLogLinesPerSecond(double value) { accessLogLinesPerSecond = value; return this; }
        public Builder maxSeries(int value) { maxSeries = value; return this; }
        public Builder allowedPeerUids(Set<Integer> value) { allowedPeerUids = value; return this; }
        public Builder maxInboundMessageBytes(int value) { maxInboundMessageBytes = value; return this; }
        public Builder maxStreamsPerConnection(int value) { maxStreamsPerConnection = value; return this; }
        public Builder maxActiveStreams(int value) { maxActiveStreams = value; return this; }
        public Builder limits(ReportLimits value) { limits = value; return this; }

        public AgentConfig build() {
            return new AgentConfig(socketPath, metricsAddress, accessLog, accessLogLinesPerSecond, maxSeries,
                    allowedPeerUids, maxInboundMessageBytes, maxStreamsPerConnection, maxActiveStreams, limits);
        }
    }
}
