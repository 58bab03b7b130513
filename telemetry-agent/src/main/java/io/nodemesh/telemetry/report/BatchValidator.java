package io.nodemesh.telemetry.report;

import io.nodemesh.telemetry.v1.CaptureFailure;
import io.nodemesh.telemetry.v1.CaptureState;
import io.nodemesh.telemetry.v1.CaptureStates;
import io.nodemesh.telemetry.v1.PodCaptureState;
import io.nodemesh.telemetry.v1.ConnectionPhase;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.HandshakeFailure;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.ReportProtocol;
import io.nodemesh.telemetry.v1.RequestRecord;
import io.nodemesh.telemetry.v1.TunnelConnectFailure;
import io.nodemesh.telemetry.v1.TunnelTotals;
import io.nodemesh.telemetry.v1.Workload;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.LongSupplier;
import java.util.regex.Pattern;

/**
 * Checks a whole batch before any of it is aggregated, so a batch is taken entirely or not at all.
 * Returns the first problem as a message naming the field, e.g.
 * {@code connections[3].bytes_sent: 9223372036854775808 exceeds 1125899906842624}.
 */
public final class BatchValidator {

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
        if (batch.getProtocolVersion() != ReportProtocol.VERSION) {
            return "protocol_version: " + batch.getProtocolVersion() + " is not supported (this agent speaks "
                    + ReportProtocol.VERSION + ")";
        }
        int records = batch.getConnectionsCount() + batch.getRequestsCount();
        if (records > limits.maxRecordsPerBatch()) {
            return "batch holds " + records + " records, more than the limit of " + limits.maxRecordsPerBatch();
        }
        String problem = label("reporter_id", batch.getReporterId());
        if (problem == null) {
            problem = label("node", batch.getNode());
        }
        for (int i = 0; problem == null && i < batch.getWorkloadsCount(); i++) {
            problem = workload(true, batch.getWorkloads(i));
            if (problem != null) {
                problem = "workloads[" + i + "]." + problem.substring("source.".length());
            }
        }
        for (int i = 0; problem == null && i < batch.getServicesCount(); i++) {
            problem = label("services[" + i + "]", batch.getServices(i));
        }
        long now = clockMillis.getAsLong();
        int workloads = batch.getWorkloadsCount();
        int services = batch.getServicesCount();
        for (int i = 0; problem == null && i < batch.getConnectionsCount(); i++) {
            problem = connection(batch.getConnections(i), now, workloads, services);
            if (problem != null) {
                problem = "connections[" + i + "]." + problem;
            }
        }
        for (int i = 0; problem == null && i < batch.getRequestsCount(); i++) {
            problem = request(batch.getRequests(i), now);
            if (problem != null) {
                problem = "requests[" + i + "]." + problem;
            }
        }
        if (problem == null && batch.hasCaptureStates()) {
            problem = captureStates(batch.getCaptureStates());
        }
        if (problem == null && batch.hasTunnelTotals()) {
            problem = tunnelTotals(batch.getTunnelTotals());
        }
        return problem;
    }

    private String captureStates(CaptureStates states) {
        if (states.getPodsCount() > limits.maxRecordsPerBatch()) {
            return "capture_states.pods: " + states.getPodsCount() + " pods, more than the limit of "
                    + limits.maxRecordsPerBatch();
        }
        for (int i = 0; i < states.getPodsCount(); i++) {
            PodCaptureState pod = states.getPods(i);
            String field = "capture_states.pods[" + i + "].";
            String problem = label(field + "namespace", pod.getNamespace());
            if (problem == null) problem = label(field + "pod", pod.getPod());
            if (problem == null && (pod.getNamespace().isEmpty() || pod.getPod().isEmpty())) {
                problem = field + "namespace/pod: must be set";
            }
            if (problem == null && (pod.getState() == CaptureState.CAPTURE_STATE_UNSPECIFIED
                    || pod.getState() == CaptureState.UNRECOGNIZED)) {
                problem = field + "state: " + pod.getStateValue() + " is not a known capture state";
            }
            boolean failed = pod.getState() == CaptureState.CAPTURE_STATE_FAILED;
            if (problem == null && failed && !known(pod.getReason())) {
                problem = field + "reason: " + pod.getReasonValue() + " is not a known capture failure";
            }
            if (problem == null && !failed && pod.getReason() != CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED) {
                problem = field + "reason: only a failed capture has a reason";
            }
            if (problem != null) {
                return problem;
            }
        }
        return counts("capture_states.failures", states.getFailuresList().stream().map(c -> new Count("reason",
                c.getReason(), known(c.getReason()) ? null : c.getReasonValue() + " is not a known capture failure",
                c.getTotal())).toList());
    }

    private static String tunnelTotals(TunnelTotals t) {
        String problem = count("tunnel_totals.client_connections", t.getClientConnections());
        if (problem == null) problem = count("tunnel_totals.client_streams", t.getClientStreams());
        if (problem == null) problem = count("tunnel_totals.server_connections", t.getServerConnections());
        if (problem == null) problem = count("tunnel_totals.pooled_connections", t.getPooledConnections());
        if (problem == null) {
            problem = counts("tunnel_totals.connection_failures", t.getConnectionFailuresList().stream()
                    .map(c -> new Count("reason", c.getReason(), known(c.getReason()) ? null
                            : c.getReasonValue() + " is not a known tunnel connection failure", c.getTotal()))
                    .toList());
        }
        if (problem == null) {
            problem = counts("tunnel_totals.handshake_failures", t.getHandshakeFailuresList().stream()
                    .map(c -> new Count("reason", c.getReason(), known(c.getReason()) ? null
                            : c.getReasonValue() + " is not a known handshake failure", c.getTotal()))
                    .toList());
        }
        if (problem == null) {
            problem = counts("tunnel_totals.server_streams", t.getServerStreamsList().stream()
                    .map(c -> new Count("status", Integer.toUnsignedString(c.getStatus()),
                            c.getStatus() == 0 || c.getStatus() >= 100 && c.getStatus() <= 599 ? null
                                    : Integer.toUnsignedString(c.getStatus()) + " is not an HTTP status (100-599, or 0 "
                                    + "for any other)", c.getTotal()))
                    .toList());
        }
        return problem;
    }

    /** One entry of a list of running totals as the checks see it: its key, why that key is refused (null: it is not). */
    private record Count(String keyField, Object key, String badKey, long total) {
    }

    /** The first problem of a list of running totals: a key refused or listed twice, a total past belief. */
    private static String counts(String field, List<Count> counts) {
        Set<Object> seen = new HashSet<>();
        for (int i = 0; i < counts.size(); i++) {
            Count c = counts.get(i);
            String at = field + "[" + i + "].";
            if (c.badKey() != null) {
                return at + c.keyField() + ": " + c.badKey();
            }
            if (!seen.add(c.key())) {
                return at + c.keyField() + ": " + c.key() + " is listed twice";
            }
            String problem = count(at + "total", c.total());
            if (problem != null) {
                return problem;
            }
        }
        return null;
    }

    /** A uint64 (or uint32) count arrives signed: a "negative" one is a huge unsigned one, past belief. */
    private static String count(String field, long total) {
        return total >= 0 ? null : field + ": " + Long.toUnsignedString(total) + " is not a believable count";
    }

    private static String count(String field, int total) {
        return total >= 0 ? null : field + ": " + Integer.toUnsignedString(total) + " is not a believable count";
    }

    private static boolean known(TunnelConnectFailure reason) {
        return reason != TunnelConnectFailure.TUNNEL_CONNECT_FAILURE_UNSPECIFIED
                && reason != TunnelConnectFailure.UNRECOGNIZED;
    }

    private static boolean known(HandshakeFailure reason) {
        return reason != HandshakeFailure.HANDSHAKE_FAILURE_UNSPECIFIED && reason != HandshakeFailure.UNRECOGNIZED;
    }

    private static boolean known(CaptureFailure reason) {
        return reason != CaptureFailure.CAPTURE_FAILURE_UNSPECIFIED && reason != CaptureFailure.UNRECOGNIZED;
    }

    private String connection(ConnectionRecord r, long now, int workloads, int services) {
        String problem = direction(r.getDirection());
        if (problem == null) problem = reference("source_ref", r.getSourceRef(), workloads);
        if (problem == null) problem = reference("destination_ref", r.getDestinationRef(), workloads);
        if (problem == null && Integer.toUnsignedLong(r.getDestinationServiceRef()) > services) {
            problem = "destination_service_ref: " + Integer.toUnsignedString(r.getDestinationServiceRef())
                    + " points past the " + services + " services of the batch";
        }
        if (problem == null) problem = workload(true, r.getSource());
        if (problem == null) problem = workload(false, r.getDestination());
        if (problem == null) problem = label("destination_service", r.getDestinationService());
        if (problem == null) problem = Endpoints.port("destination_port", r.getDestinationPort());
        if (problem == null) problem = Endpoints.problem(r);
        if (problem == null) problem = byteCount("bytes_sent", r.getBytesSent());
        if (problem == null) problem = byteCount("bytes_received", r.getBytesReceived());
        if (problem == null) problem = openedAt("opened_at_epoch_millis", r.getOpenedAtEpochMillis(), now);
        if (problem == null) problem = duration("duration_nanos", r.getDurationNanos());
        if (problem == null && r.getPhase() == ConnectionPhase.UNRECOGNIZED) {
            problem = "phase: " + r.getPhaseValue() + " is not a known connection phase";
        }
        if (problem == null && r.getPhase() == ConnectionPhase.CONNECTION_PHASE_OPENED) {
            return opened(r);
        }
        if (problem == null && r.getOutcome() == Outcome.OUTCOME_UNSPECIFIED) {
            problem = "outcome: must be set";
        }
        if (problem == null) problem = flags("response_flags", r.getResponseFlags());
        return problem;
    }

    /** An OPENED record knows nothing yet of bytes, duration or how the connection ends. */
    private static String opened(ConnectionRecord r) {
        if (r.getBytesSent() != 0 || r.getBytesReceived() != 0) {
            return "bytes_sent/bytes_received: an OPENED record carries no bytes (they are reported when it closes)";
        }
        if (r.getDurationNanos() != 0 || r.getOutcome() != Outcome.OUTCOME_UNSPECIFIED || !r.getResponseFlags().isEmpty()
                || r.getOpenReported() || r.getEndedByValue() != 0) {
            return "phase: an OPENED record carries no duration_nanos, outcome, ended_by, response_flags or "
                    + "open_reported";
        }
        return null;
    }

    private String request(RequestRecord r, long now) {
        String problem = direction(r.getDirection());
        if (problem == null) problem = workload(true, r.getSource());
        if (problem == null) problem = workload(false, r.getDestination());
        if (problem == null) problem = label("destination_service", r.getDestinationService());
        if (problem == null && !PROTOCOL.matcher(r.getProtocol()).matches()) {
            problem = "protocol: '" + clip(r.getProtocol()) + "' is not a lower-case protocol name like http";
        }
        if (problem == null) problem = label("method", r.getMethod());
        if (problem == null && Integer.toUnsignedLong(r.getResponseCode()) > 999) {
            problem = "response_code: " + Integer.toUnsignedString(r.getResponseCode()) + " is not an HTTP status";
        }
        if (problem == null) problem = byteCount("request_bytes", r.getRequestBytes());
        if (problem == null) problem = byteCount("response_bytes", r.getResponseBytes());
        if (problem == null) problem = openedAt("started_at_epoch_millis", r.getStartedAtEpochMillis(), now);
        if (problem == null) problem = duration("duration_nanos", r.getDurationNanos());
        if (problem == null) problem = flags("response_flags", r.getResponseFlags());
        return problem;
    }

    private static String direction(Direction direction) {
        return direction == Direction.DIRECTION_INBOUND || direction == Direction.DIRECTION_OUTBOUND
                ? null
                : "direction: must be DIRECTION_INBOUND or DIRECTION_OUTBOUND";
    }

    private String workload(boolean source, Workload w) {
        String problem = label(source ? "source.name" : "destination.name", w.getName());
        if (problem == null) problem = label(source ? "source.namespace" : "destination.namespace", w.getNamespace());
        if (problem == null) problem = label(source ? "source.principal" : "destination.principal", w.getPrincipal());
        return problem;
    }

    private static String reference(String field, int ref, int workloads) {
        return Integer.toUnsignedLong(ref) <= workloads
                ? null
                : field + ": " + Integer.toUnsignedString(ref) + " points past the " + workloads + " workloads of the batch";
    }

    private String label(String field, String value) {
        return value.length() <= limits.maxLabelLength()
                ? null
                : field + ": " + value.length() + " chars exceed the limit of " + limits.maxLabelLength();
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
        // "-" and empty are by far the most common: skip the regex for them.
        return flags.isEmpty() || ResponseFlags.NONE.equals(flags) || FLAGS.matcher(flags).matches()
                ? null
                : field + ": '" + clip(flags) + "' is not '-' or comma-separated Envoy flags like UF,URX";
    }

    private static String clip(String value) {
        return value.length() <= 40 ? value : value.substring(0, 40) + "...";
    }
}
