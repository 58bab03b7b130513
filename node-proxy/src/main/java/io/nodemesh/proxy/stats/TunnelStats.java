package io.nodemesh.proxy.stats;

import io.netty.channel.ConnectTimeoutException;
import io.nodemesh.proxy.model.HandshakeFailure;
import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Function;
import javax.net.ssl.SSLException;

/**
 * The mutual-TLS tunnel's own counters, node-wide: on the client side the tunnel connections made and why others
 * failed, and the streams opened on them; on the server side the connections accepted, the handshakes refused and the
 * streams answered, by HTTP status. Counted off the hot path of the bytes (once per connection or stream).
 */
public final class TunnelStats {

    /** Why a client's tunnel connection did not come up. */
    public enum Failure {
        CONNECT_TIMEOUT, REFUSED, HANDSHAKE, CLOSED, ERROR;

        /** From the exception's type, never its text. */
        public static Failure of(Throwable cause) {
            if (cause instanceof ConnectTimeoutException) {
                return CONNECT_TIMEOUT;
            }
            if (cause instanceof ConnectException) {
                return REFUSED;
            }
            if (cause instanceof SSLException || cause != null && cause.getCause() instanceof SSLException) {
                return HANDSHAKE;
            }
            if (cause instanceof ClosedChannelException) {
                return CLOSED;
            }
            return ERROR;
        }
    }

    private static final int[] STATUSES = {200, 400, 401, 403, 503};

    private final LongAdder connections = new LongAdder();
    private final LongAdder streams = new LongAdder();
    private final LongAdder[] failures = adders(Failure.values().length);
    private final LongAdder accepted = new LongAdder();
    private final LongAdder[] handshakeFailures = adders(HandshakeFailure.values().length);
    private final LongAdder[] answers = adders(STATUSES.length + 1);

    private static LongAdder[] adders(int n) {
        LongAdder[] a = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    /** A client's tunnel connection is up (secured, the server's SETTINGS in). */
    public void connected() {
        connections.increment();
    }

    /** A client's tunnel connection failed before it was up. */
    public void failed(Throwable cause) {
        failures[Failure.of(cause).ordinal()].increment();
    }

    /** A stream was opened for an app connection. */
    public void streamOpened() {
        streams.increment();
    }

    /** The tunnel server accepted a connection. */
    public void accepted() {
        accepted.increment();
    }

    /** The tunnel server refused a client's handshake, for {@code reason}. */
    public void handshakeFailed(HandshakeFailure reason) {
        handshakeFailures[reason.ordinal()].increment();
    }

    /** The tunnel server answered a stream with {@code status}. */
    public void answered(int status) {
        int i = 0;
        while (i < STATUSES.length && STATUSES[i] != status) {
            i++;
        }
        answers[i].increment(); // the last slot: any other status
    }

    /** The counters now, with the {@code pooledConnections} the pods' pools hold (which they, not these, know). */
    public Totals totals(int pooledConnections) {
        Map<Failure, Long> failed = new EnumMap<>(Failure.class);
        for (Failure f : Failure.values()) {
            failed.put(f, failures[f.ordinal()].sum());
        }
        Map<HandshakeFailure, Long> refused = new EnumMap<>(HandshakeFailure.class);
        for (HandshakeFailure f : HandshakeFailure.values()) {
            refused.put(f, handshakeFailures[f.ordinal()].sum());
        }
        Map<Integer, Long> byStatus = new LinkedHashMap<>();
        for (int i = 0; i < STATUSES.length; i++) {
            byStatus.put(STATUSES[i], answers[i].sum());
        }
        byStatus.put(Totals.OTHER_STATUS, answers[STATUSES.length].sum());
        return new Totals(connections.sum(), Collections.unmodifiableMap(failed), streams.sum(), accepted.sum(),
                Collections.unmodifiableMap(refused),
                Collections.unmodifiableMap(byStatus), pooledConnections);
    }

    /**
     * The tunnel's counters at one moment, immutable: what {@code /stats} shows and the telemetry reporter sends (as
     * running totals since the proxy started).
     *
     * @param clientConnections client connections that came up
     * @param connectionFailures client connections that did not, by reason
     * @param clientStreams streams opened for app connections
     * @param serverConnections connections the tunnel servers accepted
     * @param handshakeFailures handshakes the tunnel servers refused, by reason
     * @param serverStreams streams the tunnel servers answered, by HTTP status ({@link #OTHER_STATUS}: any other)
     * @param pooledConnections client connections the pods' pools hold now
     */
    public record Totals(long clientConnections, Map<Failure, Long> connectionFailures, long clientStreams,
                         long serverConnections, Map<HandshakeFailure, Long> handshakeFailures,
                         Map<Integer, Long> serverStreams, int pooledConnections) {

        /** The key in {@link #serverStreams} of the statuses not counted apart. */
        public static final int OTHER_STATUS = 0;

        /** The handshakes refused, whatever the reason. */
        public long handshakeFailureCount() {
            return handshakeFailures.values().stream().mapToLong(Long::longValue).sum();
        }

        /** As a JSON-ready tree, for {@code /stats}. */
        public Map<String, Object> report() {
            Map<String, Object> client = new LinkedHashMap<>();
            client.put("connections", clientConnections);
            client.put("connectionFailures", labelled(connectionFailures, f -> f.name().toLowerCase(Locale.ROOT)));
            client.put("streams", clientStreams);
            Map<String, Object> server = new LinkedHashMap<>();
            server.put("connections", serverConnections);
            server.put("handshakeFailures", handshakeFailureCount());
            server.put("handshakeFailuresByReason", labelled(handshakeFailures, HandshakeFailure::label));
            server.put("streams", labelled(serverStreams, s -> s == OTHER_STATUS ? "other" : Integer.toString(s)));
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("client", client);
            out.put("server", server);
            out.put("pooledConnections", pooledConnections);
            return out;
        }

        private static <K> Map<String, Long> labelled(Map<K, Long> counts, Function<K, String> label) {
            Map<String, Long> out = new LinkedHashMap<>();
            counts.forEach((k, n) -> out.put(label.apply(k), n));
            return out;
        }
    }
}
