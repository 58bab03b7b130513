package io.nodemesh.telemetry.agent;

import io.nodemesh.telemetry.accesslog.AccessLog;
import io.nodemesh.telemetry.metrics.AgentSelfMetrics;
import io.nodemesh.telemetry.metrics.AgentSelfMetrics.RejectReason;
import io.nodemesh.telemetry.metrics.CaptureMetrics;
import io.nodemesh.telemetry.metrics.IstioMetrics;
import io.nodemesh.telemetry.metrics.TunnelMetrics;
import io.nodemesh.telemetry.report.BatchValidator;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.ReportProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the agent does with report batches, whoever brings them: validates each batch as a whole, aggregates it into the
 * metrics and logs it, per reporter {@link Session} (a stream: capture states and tunnel gauges last as long as the
 * session that brought them). The gRPC service ({@link ReportService}) opens one per stream on the socket; a proxy that
 * hosts the agent opens one and hands its batches in directly. Nothing a reporter sends can throw out of here.
 */
public final class ReportIntake {

    private static final Logger LOG = LoggerFactory.getLogger(ReportIntake.class);

    private final BatchValidator validator;
    private final IstioMetrics metrics;
    private final CaptureMetrics captures;
    private final TunnelMetrics tunnels;
    private final AgentSelfMetrics self;
    private final AccessLog accessLog; // null when off
    private final int maxActiveStreams;

    ReportIntake(BatchValidator validator, IstioMetrics metrics, CaptureMetrics captures, TunnelMetrics tunnels,
            AgentSelfMetrics self, AccessLog accessLog, int maxActiveStreams) {
        this.validator = validator;
        this.metrics = metrics;
        this.captures = captures;
        this.tunnels = tunnels;
        this.self = self;
        this.accessLog = accessLog;
        this.maxActiveStreams = maxActiveStreams;
    }

    /** A new reporter's session, or null (counted as rejected) when {@link #maxActiveStreams()} are open. */
    public Session open() {
        if (self.activeStreams().incrementAndGet() > maxActiveStreams) {
            self.activeStreams().decrementAndGet();
            self.rejected(RejectReason.TOO_MANY_STREAMS);
            return null;
        }
        return new Session();
    }

    /** How many sessions may be open at once. */
    public int maxActiveStreams() {
        return maxActiveStreams;
    }

    /** Why a batch was not taken; its session has ended. */
    public record Refusal(boolean agentFault, String message) {
    }

    /** One reporter's stream of batches; used by one thread at a time. */
    public final class Session {
        private long acceptedRecords;
        private long acceptedBatches;
        private boolean finished;

        private Session() {
        }

        /**
         * Takes {@code batch}: null when it was aggregated, else why not (a batch that fails validation, or the agent
         * failing on it), and the session is finished. A finished session takes nothing.
         */
        public Refusal accept(ReportBatch batch) {
            if (finished) {
                return new Refusal(false, "the report stream has ended");
            }
            try {
                String problem = validator.problemWith(batch);
                if (problem != null) {
                    self.rejected(batch.getProtocolVersion() != ReportProtocol.VERSION
                            ? RejectReason.VERSION : RejectReason.INVALID);
                    finish();
                    return new Refusal(false, problem);
                }
                metrics.record(batch);
                if (batch.hasCaptureStates()) {
                    captures.update(this, batch.getReporterId(), batch.getCaptureStates());
                }
                if (batch.hasTunnelTotals()) {
                    tunnels.update(this, batch.getReporterId(), batch.getTunnelTotals());
                }
                if (accessLog != null) {
                    accessLog.log(batch);
                }
                self.acceptedBatch(batch.getConnectionsCount(), batch.getRequestsCount(),
                        batch.getDroppedSinceLastBatch());
                acceptedBatches++;
                acceptedRecords += batch.getConnectionsCount() + batch.getRequestsCount();
                return null;
            } catch (RuntimeException e) {
                LOG.error("report batch from {} failed", batch.getReporterId(), e);
                finish();
                return new Refusal(true, "the agent failed on this batch: " + e);
            }
        }

        /** Ends the session: what it brought that lasts only as long as it (capture states, tunnel gauges) goes. */
        public void finish() {
            if (!finished) {
                finished = true;
                captures.forget(this);
                tunnels.forget(this);
                self.activeStreams().decrementAndGet();
            }
        }

        public boolean finished() {
            return finished;
        }

        public long acceptedRecords() {
            return acceptedRecords;
        }

        public long acceptedBatches() {
            return acceptedBatches;
        }
    }
}
