package io.nodemesh.proxy.relay;

import io.nodemesh.proxy.model.Outcome;
import java.util.ArrayList;
import java.util.List;

/** A {@link ConnectionListener} that keeps what telemetry would have been told, for assertions. */
public final class RecordingListener implements ConnectionListener {

    /** One {@code closed} call: the outcome and the bytes as they were when the connection was reported. */
    public record Closed(Outcome outcome, long bytesFromSource, long bytesToSource) {
    }

    private final List<Connection> opened = new ArrayList<>();
    private final List<Closed> closed = new ArrayList<>();
    private final List<String> notRedirected = new ArrayList<>();

    @Override
    public void opened(Connection connection) {
        opened.add(connection);
    }

    @Override
    public void closed(Connection connection, Outcome outcome, long durationNanos) {
        closed.add(new Closed(outcome, connection.bytesFromSource(), connection.bytesToSource()));
    }

    @Override
    public void notRedirected(Connection connection, String reason) {
        notRedirected.add(reason);
    }

    public List<Connection> opened() {
        return opened;
    }

    public List<Closed> closed() {
        return closed;
    }

    /** The reasons given for connections that reached a capture port without a redirect. */
    public List<String> notRedirected() {
        return notRedirected;
    }
}
