package io.nodemesh.telemetry.report;

import io.nodemesh.telemetry.v1.Address;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.RequestRecord;
import io.nodemesh.telemetry.v1.Workload;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * Checks a whole batch before any of it is aggregated, so a batch is taken entirely or not at all.
 * Returns the first problem as a message naming the field, e.g.
 * {@code connections[3].bytes_sent: 9223372036854775808 exceeds 1125899906842624}.
 */
public final class BatchValidator {

    /** The major protocol version this agent speaks. */
    public static final int PROTOCOL_VERSION = 1;

    private static final Pattern FLAGS = Pattern.compile("-|[A-Z]{1,5}(,[A-Z]{1,5}){0,7}");
    private static final Pattern PROTOCOL = Pattern.compile("[a-z0-9]{1,16}");

    private final ReportLimits limits;
    private final LongSupplier clockMillis;

    public BatchValidator(ReportLimits limits, LongSupplier clockMillis) {
        this.limits = limits;
        this.clockMillis = clockMillis;
    }

    /** Returns null when the batch is acceptable, otherwise what is wrong with it. */
    public String problemWith(ReportBatch batch) {
        if (batch.getProtocolVersion() != PROTOCOL_VERSION) {
            return "protocol_version: " + batch.getProtocolVersion() + " is not supported (this agent speaks "
                    + PROTOCOL_VERSION + ")";
        }
        int records = batch.getConnectionsCount() + batch.getRequestsCount();
        if (records > limits.maxRecordsPerBatch()) {
            return "batch holds " + records + " records, more than the limit of " + limits.maxRecordsPerBatch();
        }
        String problem = label("reporter_id", batch.getReporterId());
        if (problem == null) {
            problem = label("node", batch.getNode());
        }
        long now = clockMillis.getAsLong();
        for (int i = 0; problem == null && i < batch.getConnectionsCount(); i++) {
            problem = connection("connections[" + i + "].", batch.getConnections(i), now);
        }
        for (int i = 0; problem == null && i < batch.getRequestsCount(); i++) {
            problem = request("requests[" + i + "].", batch.getRequests(i), now);
        }
        return problem;
    }

    private String connection(String at, ConnectionRecord r, long now) {
        String problem = direction(at, r.getDirection());
        if (problem == null) problem = workload(at + "source.", r.getSource());
        if (problem == null) problem = workload(at + "destination.", r.getDestination());
        if (problem == null) problem = label(at + "destination_service", r.getDestinationService());
        if (problem == null) problem = port(at + "destination_port", r.getDestinationPort());
        if (problem == null) problem = address(at + "source_address", r.getSourceAddress());
        if (problem == null) problem = address(at + "destination_address", r.getDestinationAddress());
        if (problem == null) problem = byteCount(at + "bytes_sent", r.getBytesSent());
        if (problem == null) problem = byteCount(at + "bytes_received", r.getBytesReceived());
        if (problem == null) problem = openedAt(at + "opened_at_epoch_millis", r.getOpenedAtEpochMillis(), now);
        if (problem == null) problem = duration(at + "duration_nanos", r.getDurationNanos());
        if (problem == null && r.getOutcome() == Outcome.OUTCOME_UNSPECIFIED) {
            problem = at + "outcome: must be set";
        }
        if (problem == null) problem = flags(at + "response_flags", r.getResponseFlags());
        return problem;
    }

    private String request(String at, RequestRecord r, long now) {
        String problem = direction(at, r.getDirection());
        if (problem == null) problem = workload(at + "source.", r.getSource());
        if (problem == null) problem = workload(at + "destination.", r.getDestination());
        if (problem == null) problem = label(at + "destination_service", r.getDestinationService());
        if (problem == null && !PROTOCOL.matcher(r.getProtocol()).matches()) {
            problem = at + "protocol: '" + clip(r.getProtocol()) + "' is not a lower-case protocol name like http";
        }
        if (problem == null) problem = label(at + "method", r.getMethod());
        if (problem == null && Integer.toUnsignedLong(r.getResponseCode()) > 999) {
            problem = at + "response_code: " + Integer.toUnsignedString(r.getResponseCode()) + " is not an HTTP status";
        }
        if (problem == null) problem = byteCount(at + "request_bytes", r.getRequestBytes());
        if (problem == null) problem = byteCount(at + "response_bytes", r.getResponseBytes());
        if (problem == null) problem = openedAt(at + "started_at_epoch_millis", r.getStartedAtEpochMillis(), now);
        if (problem == null) problem = duration(at + "duration_nanos", r.getDurationNanos());
        if (problem == null) problem = flags(at + "response_flags", r.getResponseFlags());
        return problem;
    }

    private static String direction(String at, Direction direction) {
        return direction == Direction.DIRECTION_INBOUND || direction == Direction.DIRECTION_OUTBOUND
                ? null
                : at + "direction: must be DIRECTION_INBOUND or DIRECTION_OUTBOUND";
    }

    private String workload(String at, Workload w) {
        String problem = label(at + "name", w.getName());
        if (problem == null) problem = label(at + "namespace", w.getNamespace());
        if (problem == null) problem = label(at + "principal", w.getPrincipal());
        return problem;
    }

    private String label(String field, String value) {
        return value.length() <= limits.maxLabelLength()
                ? null
                : field + ": " + value.length() + " chars exceed the limit of " + limits.maxLabelLength();
    }

    private static String port(String field, int port) {
        return port >= 0 && port <= 65_535 ? null : field + ": " + Integer.toUnsignedString(port) + " is not a port";
    }

    private static String address(String field, Address address) {
        int length = address.getIp().size();
        if (length != 0 && length != 4 && length != 16) {
            return field + ".ip: " + length + " bytes is neither IPv4 (4) nor IPv6 (16)";
        }
        return port(field + ".port", address.getPort());
    }

    private String byteCount(String field, long bytes) {
        // uint64 arrives as a signed long: a "negative" value is a huge unsigned one, both absurd.
        return bytes >= 0 && bytes <= limits.maxBytesPerConnection()
                ? null
                : field + ": " + Long.toUnsignedString(bytes) + " exceeds " + limits.maxBytesPerConnection();
    }

    private String openedAt(String field, long epochMillis, long now) {
        if (epochMillis < 0) {
            return field + ": " + epochMillis + " is before 1970";
        }
        return epochMillis <= now + limits.maxClockSkew().toMillis()
                ? null
                : field + ": " + epochMillis + " lies more than " + limits.maxClockSkew() + " in the future";
    }

    private String duration(String field, long nanos) {
        if (nanos < 0) {
            return field + ": " + nanos + " is negative";
        }
        return nanos <= limits.maxDuration().toNanos() ? null : field + ": " + nanos + " exceeds " + limits.maxDuration();
    }

    private static String flags(String field, String flags) {
        return flags.isEmpty() || FLAGS.matcher(flags).matches()
                ? null
                : field + ": '" + clip(flags) + "' is not '-' or comma-separated Envoy flags like UF,URX";
    }

    private static String clip(String value) {
        return value.length() <= 40 ? value : value.substring(0, 40) + "...";
    }
}
