package io.nodemesh.proxy.telemetry;

import io.nodemesh.telemetry.v1.ReportBatch;

/**
 * Where a {@link TelemetryReporter}'s batches go: the node's agent on its Unix socket over gRPC (the default, {@link
 * GrpcReportTransport}), or an agent in this process ({@code nodemesh proxy --agent-in-process}), which takes the
 * batches as they are: no socket, no serialisation, no gRPC classes or threads.
 */
public interface ReportTransport extends AutoCloseable {

    /** A new stream to the agent, used by the {@code reporter} thread alone. */
    Stream open(Thread reporter);

    /** Releases what the transport holds (its socket and threads); the reporter has ended its stream before. */
    @Override
    void close();

    /** One stream of batches, driven by the reporter thread. */
    interface Stream {
        /** Parks the reporter until the stream takes another batch; false if it broke or {@code timeoutNanos} passed. */
        boolean awaitReady(long timeoutNanos);

        /** Hands {@code batch} over: it counts as sent. */
        void send(ReportBatch batch);

        /** True once the agent ended the stream or the transport failed. */
        boolean broken();

        /** Why the stream ended. */
        String failure();

        /** Ends the stream at once. */
        void cancel(String why);

        /** Ends the stream, waiting up to {@code timeoutNanos} for the agent to have taken every batch. */
        void finish(long timeoutNanos);
    }
}
