package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What the data path tells telemetry about one finished connection: created once per
 * connection when both sides are closed, never per byte.
 *
 * @param opening the connection as it was when it opened (pod, direction, both ends, time)
 * @param bytesFromSource bytes the proxy read from the source and forwarded upstream
 * @param bytesToSource bytes the proxy read from upstream and wrote back to the source
 * @param durationNanos accept-to-close time
 * @param outcome how it ended
 * @param openReported whether {@code opening} was queued for the agent on its own (which then
 *        does not count it as opened a second time)
 * @param endedBy whose failure ended it ({@code RESET}, {@code PEER_LOST}, {@code ERROR} on an established
 *        connection), or null
 */
public record ClosedConnection(
        OpenedConnection opening,
        long bytesFromSource,
        long bytesToSource,
        long durationNanos,
        Outcome outcome,
        boolean openReported,
        Side endedBy) implements ConnectionEvent {

    public ClosedConnection {
        Objects.requireNonNull(opening, "opening");
        Objects.requireNonNull(outcome, "outcome");
    }

    /** A finished connection that no one side's failure ended. */
    public ClosedConnection(OpenedConnection opening, long bytesFromSource, long bytesToSource, long durationNanos,
            Outcome outcome, boolean openReported) {
        this(opening, bytesFromSource, bytesToSource, durationNanos, outcome, openReported, null);
    }

    /** A finished connection whose opening was not reported on its own. */
    public ClosedConnection(OpenedConnection opening, long bytesFromSource, long bytesToSource, long durationNanos,
            Outcome outcome) {
        this(opening, bytesFromSource, bytesToSource, durationNanos, outcome, false);
    }

    /** Which capture listener accepted it. */
    public Direction direction() {
        return opening.direction();
    }

    /** Kubernetes namespace of the captured pod the connection belongs to. */
    public String podNamespace() {
        return opening.podNamespace();
    }

    /** Name of that pod. */
    public String podName() {
        return opening.podName();
    }

    /** The peer that opened the connection (the app's address for outbound). */
    public InetSocketAddress source() {
        return opening.source();
    }

    /** The original destination (before REDIRECT). */
    public InetSocketAddress destination() {
        return opening.destination();
    }

    /** Wall-clock time the connection was accepted. */
    public long openedAtEpochMillis() {
        return opening.openedAtEpochMillis();
    }
}
