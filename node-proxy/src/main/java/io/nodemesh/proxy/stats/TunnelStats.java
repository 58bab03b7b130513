package io.nodemesh.proxy.stats;

import io.netty.channel.ConnectTimeoutException;
import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
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
    private final LongAdder handshakeFailures = new LongAdder();
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

    /** The tunnel server refused a client's handshake (no certificate of the mesh, another trust domain, not TLS). */
    public void handshakeFailed() {
        handshakeFailures.increment();
    }

    /** The tunnel server answered a stream with {@code status}. */
    public void answered(int status) {
        int i = 0;
        while (i < STATUSES.length && STATUSES[i] != status) {
            i++;
        }
        answers[i].increment(); // the last slot: any other status
    }

    /** The counters as a JSON-ready tree, for {@code /stats}. */
    public Map<String, Object> report() {
        Map<String, Object> client = new LinkedHashMap<>();
        client.put("connections", connections.sum());
        Map<String, Long> failed = new LinkedHashMap<>();
        for (Failure f : Failure.values()) {
            failed.put(f.name().toLowerCase(Locale.ROOT), failures[f.ordinal()].sum());
        }
        client.put("connectionFailures", failed);
        client.put("streams", streams.sum());
        Map<String, Object> server = new LinkedHashMap<>();
        server.put("connections", accepted.sum());
        server.put("handshakeFailures", handshakeFailures.sum());
        Map<String, Long> byStatus = new LinkedHashMap<>();
        for (int i = 0; i < STATUSES.length; i++) {
            byStatus.put(Integer.toString(STATUSES[i]), answers[i].sum());
        }
        byStatus.put("other", answers[STATUSES.length].sum());
        server.put("streams", byStatus);
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("client", client);
        out.put("server", server);
        return out;
    }
}
