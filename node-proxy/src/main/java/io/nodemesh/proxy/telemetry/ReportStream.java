package io.nodemesh.proxy.telemetry;

import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.nodemesh.telemetry.v1.ReportAck;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.TelemetryReportGrpc;
import java.util.concurrent.locks.LockSupport;

/**
 * One client stream of report batches to the agent. Driven by the reporter thread; gRPC's
 * callbacks only record what happened and wake that thread.
 */
final class ReportStream implements ClientResponseObserver<ReportBatch, ReportAck>, ReportTransport.Stream {

    private final Thread reporter;
    private ClientCallStreamObserver<ReportBatch> requests;
    private volatile boolean ended;
    /** The reporter is parked in {@link #awaitReady}; only then does gRPC's readiness callback wake it. */
    private volatile boolean awaitingReady;
    private volatile Throwable failure;

    private ReportStream(Thread reporter) {
        this.reporter = reporter;
    }

    static ReportStream open(TelemetryReportGrpc.TelemetryReportStub stub, Thread reporter) {
        ReportStream stream = new ReportStream(reporter);
        stub.report(stream);
        return stream;
    }

    @Override
    public void beforeStart(ClientCallStreamObserver<ReportBatch> requestStream) {
        requests = requestStream;
        // gRPC calls this each time a sent batch has drained, usually while the reporter is gathering the next one:
        // waking it then would cost a wake-up per batch for nothing.
        requestStream.setOnReadyHandler(() -> {
            if (awaitingReady) {
                LockSupport.unpark(reporter);
            }
        });
    }

    @Override
    public void onNext(ReportAck ack) {
        // The ack only matters to tests and operators reading agent logs; nothing to do here.
    }

    @Override
    public void onError(Throwable t) {
        failure = t;
        ended = true;
        LockSupport.unpark(reporter);
    }

    @Override
    public void onCompleted() {
        ended = true;
        LockSupport.unpark(reporter);
    }

    /** True once the agent ended the stream or the transport failed. */
    @Override
    public boolean broken() {
        return ended;
    }

    @Override
    public String failure() {
        Throwable t = failure;
        return t == null ? "completed by the agent" : t.toString();
    }

    /** Parks the calling (reporter) thread until the stream takes more data, breaks, or the timeout passes. */
    @Override
    public boolean awaitReady(long timeoutNanos) {
        long deadline = System.nanoTime() + timeoutNanos;
        while (true) {
            if (ended) {
                return false;
            }
            if (requests.isReady()) {
                return true;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            awaitingReady = true;
            try {
                if (!requests.isReady() && !ended) { // became ready before the flag was seen: do not sleep
                    LockSupport.parkNanos(this, left);
                }
            } finally {
                awaitingReady = false;
            }
        }
    }

    @Override
    public void send(ReportBatch batch) {
        requests.onNext(batch);
    }

    @Override
    public void cancel(String why) {
        requests.cancel(why, null);
    }

    /** Half-closes and waits (bounded) for the agent's answer, so the last batches are processed. */
    @Override
    public void finish(long timeoutNanos) {
        if (ended) {
            return;
        }
        requests.onCompleted();
        long deadline = System.nanoTime() + timeoutNanos;
        while (!ended && System.nanoTime() < deadline) {
            LockSupport.parkNanos(this, deadline - System.nanoTime());
        }
        if (!ended) {
            cancel("reporter closing");
        }
    }
}
