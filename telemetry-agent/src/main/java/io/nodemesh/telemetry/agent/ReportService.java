package io.nodemesh.telemetry.agent;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.nodemesh.telemetry.accesslog.AccessLog;
import io.nodemesh.telemetry.metrics.AgentSelfMetrics.RejectReason;
import io.nodemesh.telemetry.metrics.AgentSelfMetrics;
import io.nodemesh.telemetry.metrics.CaptureMetrics;
import io.nodemesh.telemetry.metrics.IstioMetrics;
import io.nodemesh.telemetry.metrics.TunnelMetrics;
import io.nodemesh.telemetry.report.BatchValidator;
import io.nodemesh.telemetry.v1.ReportAck;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.ReportProtocol;
import io.nodemesh.telemetry.v1.TelemetryReportGrpc;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Report RPC: validates each batch as a whole, aggregates it and logs it. A bad batch fails
 * its stream with INVALID_ARGUMENT naming the field; nothing a peer sends can throw out of here.
 */
final class ReportService extends TelemetryReportGrpc.TelemetryReportImplBase {

    private static final Logger LOG = LoggerFactory.getLogger(ReportService.class);

    private final BatchValidator validator;
    private final IstioMetrics metrics;
    private final CaptureMetrics captures;
    private final TunnelMetrics tunnels;
    private final AgentSelfMetrics self;
    private final AccessLog accessLog; // null when off
    private final int maxActiveStreams;

    ReportService(BatchValidator validator, IstioMetrics metrics, CaptureMetrics captures, TunnelMetrics tunnels,
            AgentSelfMetrics self, AccessLog accessLog, int maxActiveStreams) {
        this.validator = validator;
        this.metrics = metrics;
        this.captures = captures;
        this.tunnels = tunnels;
        this.self = self;
        this.accessLog = accessLog;
        this.maxActiveStreams = maxActiveStreams;
    }

    @Override
    public StreamObserver<ReportBatch> report(StreamObserver<ReportAck> responses) {
        if (self.activeStreams().incrementAndGet() > maxActiveStreams) {
            self.activeStreams().decrementAndGet();
            self.rejected(RejectReason.TOO_MANY_STREAMS);
            responses.onError(Status.RESOURCE_EXHAUSTED
                    .withDescription("the agent already has " + maxActiveStreams + " report streams open")
                    .asRuntimeException());
            return new Ignoring();
        }
        return new Stream(responses);
    }

    /** One reporter's stream; gRPC calls it serially. */
    private final class Stream implements StreamObserver<ReportBatch> {
        private final StreamObserver<ReportAck> responses;
        private long acceptedRecords;
        private long acceptedBatches;
        private boolean finished;

        Stream(StreamObserver<ReportAck> responses) {
            this.responses = responses;
        }

        @Override
        public void onNext(ReportBatch batch) {
            if (finished) {
                return;
            }
            try {
                String problem = validator.problemWith(batch);
                if (problem != null) {
                    self.rejected(batch.getProtocolVersion() != ReportProtocol.VERSION
                            ? RejectReason.VERSION : RejectReason.INVALID);
                    fail(Status.INVALID_ARGUMENT.withDescription(problem));
                    return;
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
            } catch (RuntimeException e) {
                LOG.error("report batch from {} failed", batch.getReporterId(), e);
                fail(Status.INTERNAL.withDescription("the agent failed on this batch: " + e));
            }
        }

        @Override
        public void onError(Throwable t) {
            finish();
        }

        @Override
        public void onCompleted() {
            if (finished) {
                return;
            }
            finish();
            responses.onNext(ReportAck.newBuilder()
                    .setAcceptedRecords(acceptedRecords)
                    .setAcceptedBatches(acceptedBatches)
                    .build());
            responses.onCompleted();
        }

        private void fail(Status status) {
            finish();
            responses.onError(status.asRuntimeException());
        }

        private void finish() {
            if (!finished) {
                finished = true;
                captures.forget(this);
                tunnels.forget(this);
                self.activeStreams().decrementAndGet();
            }
        }
    }

    /** Swallows what a refused stream still sends. */
    private static final class Ignoring implements StreamObserver<ReportBatch> {
        @Override
        public void onNext(ReportBatch value) {
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onCompleted() {
        }
    }
}
