package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.telemetry.v1.ReportProtocol;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Settings of a {@link TelemetryReporter}, immutable; build with {@link #builder()}.
 *
 * @param socketPath the agent's Unix socket
 * @param reporterId names this proxy in the agent's logs
 * @param node the Kubernetes node name
 * @param trustDomain SPIFFE trust domain of principals
 * @param bufferCapacity openings and closings held between the data path and the reporter thread, the batch being
 *     gathered included; more are dropped. Its slots are allocated at start, about 120 bytes each (16 Ki: 2 MB),
 *     so that nothing queued is a young object the collector has to copy
 * @param batchSize openings and closings gathered per batch (a connection that opens and closes within one batch
 *     leaves as one record); a full batch is sent at once
 * @param flushInterval the longest a record waits before its (partial) batch is sent
 * @param initialBackoff first wait before reconnecting to an absent agent
 * @param maxBackoff cap of the doubling reconnect wait
 * @param stallTimeout how long a stream may refuse more data before it is dropped and reopened
 */
public record ReporterConfig(
        Path socketPath,
        String reporterId,
        String node,
        String trustDomain,
        int bufferCapacity,
        int batchSize,
        Duration flushInterval,
        Duration initialBackoff,
        Duration maxBackoff,
        Duration stallTimeout) {

    public ReporterConfig {
        Objects.requireNonNull(socketPath, "socketPath");
        Objects.requireNonNull(reporterId, "reporterId");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(trustDomain, "trustDomain");
        if (bufferCapacity < batchSize || batchSize < 1) {
            throw new IllegalArgumentException("need 1 <= batchSize <= bufferCapacity, got batchSize " + batchSize
                    + " and bufferCapacity " + bufferCapacity);
        }
        if (flushInterval.isNegative() || flushInterval.isZero() || initialBackoff.isNegative()
                || maxBackoff.compareTo(initialBackoff) < 0 || stallTimeout.isNegative() || stallTimeout.isZero()) {
            throw new IllegalArgumentException("reporter durations must be positive and maxBackoff >= initialBackoff: "
                    + flushInterval + ", " + initialBackoff + ", " + maxBackoff + ", " + stallTimeout);
        }
    }

    /** These settings with principals in {@code value} (the proxy's {@code proxy.identity.trustDomain}). */
    public ReporterConfig withTrustDomain(String value) {
        return new ReporterConfig(socketPath, reporterId, node, value, bufferCapacity, batchSize, flushInterval,
                initialBackoff, maxBackoff, stallTimeout);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builds a {@link ReporterConfig}; defaults: 16 Ki buffer, 2048 events or 1 s, back-off 100 ms doubling to 5 s. */
    public static final class Builder {
        private Path socketPath = ReportProtocol.DEFAULT_SOCKET;
        private String reporterId = "node-proxy-" + ProcessHandle.current().pid();
        private String node = "";
        private String trustDomain = SpiffeId.DEFAULT_TRUST_DOMAIN;
        private int bufferCapacity = 16_384;
        private int batchSize = 2048;
        private Duration flushInterval = Duration.ofSeconds(1);
        private Duration initialBackoff = Duration.ofMillis(100);
        private Duration maxBackoff = Duration.ofSeconds(5);
        private Duration stallTimeout = Duration.ofSeconds(5);

        private Builder() {
        }

        public Builder socketPath(Path value) { socketPath = value; return this; }
        public Builder reporterId(String value) { reporterId = value; return this; }
        public Builder node(String value) { node = value; return this; }
        public Builder trustDomain(String value) { trustDomain = value; return this; }
        public Builder bufferCapacity(int value) { bufferCapacity = value; return this; }
        public Builder batchSize(int value) { batchSize = value; return this; }
        public Builder flushInterval(Duration value) { flushInterval = value; return this; }
        public Builder initialBackoff(Duration value) { initialBackoff = value; return this; }
        public Builder maxBackoff(Duration value) { maxBackoff = value; return this; }
        public Builder stallTimeout(Duration value) { stallTimeout = value; return this; }

        public ReporterConfig build() {
            return new ReporterConfig(socketPath, reporterId, node, trustDomain, bufferCapacity, batchSize,
                    flushInterval, initialBackoff, maxBackoff, stallTimeout);
        }
    }
}
