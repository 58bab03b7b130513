package io.nodemesh.proxy.tunnel;

import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.identity.MeshTls;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's log of the handshakes a tunnel server refused: one line per refusal naming the peer and why, at most
 * {@value #BURST} lines per 10 s, so a scanner hammering :15008 cannot flood the journal; the next line that is
 * written says how many were left out. Thread-safe (refusals come from every event loop, and are rare).
 */
final class RefusalLog {

    static final int BURST = 10;
    private static final Logger log = LoggerFactory.getLogger(TunnelServer.class);
    private static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(10);

    private final LongSupplier nanoTime;
    private long windowStart;
    private int written;
    private long leftOut;

    RefusalLog(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
        this.windowStart = nanoTime.getAsLong();
    }

    /** Logs that the server at {@code local} refused {@code peer}'s handshake, unless this window's lines are spent. */
    void refused(SocketAddress local, SocketAddress peer, MeshTls.Refusal refusal) {
        long more;
        synchronized (this) {
            long now = nanoTime.getAsLong();
            if (now - windowStart >= WINDOW_NANOS) {
                windowStart = now;
                written = 0;
            }
            if (written == BURST) {
                leftOut++;
                return;
            }
            written++;
            more = leftOut;
            leftOut = 0;
        }
        log.warn("tunnel {} refused a handshake from {}: {} ({}){}", address(local), address(peer),
                refusal.reason().label(), refusal.detail(),
                more == 0 ? "" : "; " + more + " more refused before, not logged");
    }

    private static String address(SocketAddress a) {
        return a instanceof InetSocketAddress inet ? HostPort.format(inet) : String.valueOf(a);
    }
}
