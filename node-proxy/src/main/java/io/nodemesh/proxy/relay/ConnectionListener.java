package io.nodemesh.proxy.relay;

import io.nodemesh.proxy.model.Outcome;

/** Who keeps count of a pod's connections: told once when one is accepted, when it opens and when it is finished. */
public interface ConnectionListener {

    /**
     * A capture listener or a tunnel server accepted {@code connection} (told by its constructor); it is open until its
     * downstream channel closes. Event loop: never blocks.
     */
    default void accepted(Connection connection) {
    }

    /** The connection's original destination is known; it is now counted as open. Event loop: never blocks. */
    void opened(Connection connection);

    /**
     * {@code connection} was handed over by the proxy before this one and relays here from now on; its opening was
     * reported there. Event loop: never blocks.
     */
    default void resumed(Connection connection) {
    }

    /** Both sides are closed (exactly once per opened connection). Event loop: never blocks. */
    void closed(Connection connection, Outcome outcome, long durationNanos);

    /** A connection reached a capture port without having been redirected (no original destination). */
    void notRedirected(Connection connection, String reason);
}
