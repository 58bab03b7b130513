package io.nodemesh.bench.load;

import java.io.IOException;

/** One connection's request/response exchange; {@link SocketRoundTripper} is the real one, tests fake it. */
interface RoundTripper extends AutoCloseable {

    /** Connects if there is no connection, writes one request and reads its whole response. */
    void roundTrip() throws IOException;

    /** Drops the connection (after an error); the next {@link #roundTrip()} reconnects. Safe from any thread. */
    void disconnect();

    @Override
    default void close() {
        disconnect();
    }
}
