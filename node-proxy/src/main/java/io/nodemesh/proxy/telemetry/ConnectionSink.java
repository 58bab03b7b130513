package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.CaptureReport;

/**
 * Receives one {@link OpenedConnection} per accepted connection and one {@link ClosedConnection}
 * per finished connection. Called on an event loop: implementations must not block and must not throw.
 */
@FunctionalInterface
public interface ConnectionSink {

    /** A sink that discards everything, for when telemetry is off. */
    ConnectionSink NONE = connection -> { };

    /** Records a finished connection. Never blocks. */
    void closed(ClosedConnection connection);

    /**
     * Records a connection that just opened. Never blocks.
     *
     * @return whether it was taken (so the closed record can say its opening was reported already)
     */
    default boolean opened(OpenedConnection connection) {
        return false;
    }

    /**
     * How the node's pods are captured, whole, each time it changed (called on the proxy's control thread, not on an
     * event loop). A sink that reports to the telemetry agent passes it on; the others ignore it.
     */
    default void captureStates(CaptureReport report) {
    }
}
