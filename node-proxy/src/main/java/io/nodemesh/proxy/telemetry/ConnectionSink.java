package io.nodemesh.proxy.telemetry;

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
}
