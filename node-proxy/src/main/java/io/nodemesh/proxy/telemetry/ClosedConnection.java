package io.nodemesh.proxy.telemetry;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What the data path tells telemetry about one finished connection: created once per
 * connection when both sides are closed, never per byte.
 *
 * @param direction which capture listener accepted it
 * @param podNamespace Kubernetes namespace of the captured pod the connection belongs to
 * @param podName name of that pod
 * @param podServiceAccount service account of that pod
 * @param source the peer that opened the connection (the app's address for outbound)
 * @param destination the original destination (before REDIRECT)
 * @param bytesFromSource bytes the proxy read from the source and forwarded upstream
 * @param bytesToSource bytes the proxy read from upstream and wrote back to the source
 * @param openedAtEpochMillis wall-clock time the connection was accepted
 * @param durationNanos accept-to-close time
 * @param outcome how it ended
 * @param openReported whether an {@link OpenedConnection} for it was queued for the agent (which then
 *        does not count it as opened a second time)
 */
public record ClosedConnection(
        Direction direction,
        String podNamespace,
        String podName,
        String podServiceAccount,
        InetSocketAddress source,
        InetSocketAddress destination,
        long bytesFromSource,
        long bytesToSource,
        long openedAtEpochMillis,
        long durationNanos,
        Outcome outcome,
        boolean openReported) implements ConnectionEvent {

    public ClosedConnection {
        Objects.requireNonNull(direction, "direction");
        Objects.requireNonNull(podNamespace, "podNamespace");
        Objects.requireNonNull(podName, "podName");
        Objects.requireNonNull(podServiceAccount, "podServiceAccount");
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(destination, "destination");
        Objects.requireNonNull(outcome, "outcome");
    }

    /** A finished connection whose opening was not reported on its own. */
    public ClosedConnection(Direction direction, String podNamespace, String podName, String podServiceAccount,
            InetSocketAddress source, InetSocketAddress destination, long bytesFromSource, long bytesToSource,
            long openedAtEpochMillis, long durationNanos, Outcome outcome) {
        this(direction, podNamespace, podName, podServiceAccount, source, destination, bytesFromSource, bytesToSource,
                openedAtEpochMillis, durationNanos, outcome, false);
    }

    /** Which listener accepted the connection. */
    public enum Direction {
        /** Captured on the pod's outbound listener (:15001): the pod is the client. */
        OUTBOUND,
        /** Captured on the pod's inbound plaintext listener (:15006): the pod is the server. */
        INBOUND
    }

    /** How a connection ended, as telemetry and logs report it. */
    public enum Outcome {
        /** Both sides closed normally. */
        OK,
        /** The upstream refused the connection (RST on SYN). */
        REFUSED,
        /** Either side reset an established connection. */
        RESET,
        /** Connecting upstream took longer than the connect timeout. */
        CONNECT_TIMEOUT,
        /** No bytes moved either way for longer than the idle timeout. */
        IDLE_TIMEOUT,
        /** Policy refused the connection. */
        DENIED,
        /** The proxy closed it because the drain deadline passed during shutdown or pod removal. */
        DRAINED,
        /** Any other I/O failure. */
        ERROR
    }
}
