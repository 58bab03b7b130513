package io.nodemesh.telemetry.agent;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.nodemesh.telemetry.v1.ReportAck;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.TelemetryReportGrpc;

/**
 * The Report RPC: one {@link ReportIntake.Session} per stream. A bad batch fails its stream with INVALID_ARGUMENT naming
 * the field, the agent failing on one with INTERNAL; too many streams are refused with RESOURCE_EXHAUSTED.
 */
final class ReportService extends TelemetryReportGrpc.TelemetryReportImplBase {

    private final ReportIntake intake;

    ReportService(ReportIntake intake) {
        this.intake = intake;
    }

    @Override
    public StreamObserver<ReportBatch> report(StreamObserver<ReportAck> responses) {
        ReportIntake.Session session = intake.open();
        if (session == null) {
            responses.onError(Status.RESOURCE_EXHAUSTED
                    .withDescription("the agent already has " + intake.maxActiveStreams() + " report streams open")
                    .asRuntimeException());
            return new Ignoring();
        }
        return new Stream(session, responses);
    }

    /** One reporter's stream; gRPC calls it serially. */
    private static final class Stream implements StreamObserver<ReportBatch> {
        private final ReportIntake.Session session;
        private final StreamObserver<ReportAck> responses;

        Stream(ReportIntake.Session session, StreamObserver<ReportAck> responses) {
            this.session = session;
            this.responses = responses;
        }

        @Override
        public void onNext(ReportBatch batch) {
            if (session.finished()) {
                return;
            }
            ReportIntake.Refusal refused = session.accept(batch);
            if (refused != null) {
                responses.onError((refused.agentFault() ? Status.INTERNAL : Status.INVALID_ARGUMENT)
                        .withDescription(refused.message()).asRuntimeException());
            }
        }

        @Override
        public void onError(Throwable t) {
            session.finish();
        }

        @Override
        public void onCompleted() {
            if (session.finished()) {
                return;
            }
            session.finish();
            responses.onNext(ReportAck.newBuilder()
                    .setAcceptedRecords(session.acceptedRecords())
                    .setAcceptedBatches(session.acceptedBatches())
                    .build());
            responses.onCompleted();
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
