package io.nodemesh.proxy.tunnel;

import java.time.Duration;
import java.util.Objects;

/**
 * How tunnel connections are made and kept, both ends. The windows are ztunnel's, chosen there to keep one busy stream
 * from stalling the others on its connection; measure before changing them.
 *
 * @param port where the far end's tunnel server listens (15008)
 * @param maxStreamsPerConnection streams one pooled connection carries at most; the server's
 *         {@code SETTINGS_MAX_CONCURRENT_STREAMS} lowers it, and the server announces it
 * @param streamWindow HTTP/2 receive window of one stream, bytes
 * @param connectionWindow HTTP/2 receive window of a whole connection, bytes
 * @param idleRelease a pooled connection that carried no stream for this long is closed
 * @param pingInterval a connection nothing was read from for this long is sent a PING
 * @param pingTimeout a PING not answered within this is a dead peer: the connection is closed
 * @param connectTimeout limit on TCP connect, handshake and the server's first SETTINGS together
 */
public record TunnelSettings(int port, int maxStreamsPerConnection, int streamWindow, int connectionWindow,
                             Duration idleRelease, Duration pingInterval, Duration pingTimeout,
                             Duration connectTimeout) {

    /** The well-known tunnel port. */
    public static final int PORT = 15008;

    public TunnelSettings {
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("tunnel port " + port + " is out of range (1-65535)");
        }
        if (maxStreamsPerConnection < 1) {
            throw new IllegalArgumentException("maxStreamsPerConnection must be at least 1, not " + maxStreamsPerConnection);
        }
        // HTTP/2 windows: at least the protocol's initial 65 535 bytes, at most 2^31-1.
        if (streamWindow < 65_535 || connectionWindow < 65_535) {
            throw new IllegalArgumentException("tunnel windows must be at least 65535 bytes");
        }
        Objects.requireNonNull(idleRelease, "idleRelease");
        Objects.requireNonNull(pingInterval, "pingInterval");
        Objects.requireNonNull(pingTimeout, "pingTimeout");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
    }

    /** 15008, 100 streams, 4 MiB per stream, 16 MiB per connection, idle 5 min, PING after 10 s, dead after 20 s more, connect 5 s. */
    public static TunnelSettings defaults() {
        return new TunnelSettings(PORT, 100, 4 << 20, 16 << 20, Duration.ofMinutes(5), Duration.ofSeconds(10),
                Duration.ofSeconds(20), Duration.ofSeconds(5));
    }

    public TunnelSettings withPort(int port) {
        return new TunnelSettings(port, maxStreamsPerConnection, streamWindow, connectionWindow, idleRelease,
                pingInterval, pingTimeout, connectTimeout);
    }

    public TunnelSettings withMaxStreamsPerConnection(int max) {
        return new TunnelSettings(port, max, streamWindow, connectionWindow, idleRelease, pingInterval, pingTimeout,
                connectTimeout);
    }

    public TunnelSettings withWindows(int stream, int connection) {
        return new TunnelSettings(port, maxStreamsPerConnection, stream, connection, idleRelease, pingInterval,
                pingTimeout, connectTimeout);
    }

    public TunnelSettings withIdleRelease(Duration idle) {
        return new TunnelSettings(port, maxStreamsPerConnection, streamWindow, connectionWindow, idle, pingInterval,
                pingTimeout, connectTimeout);
    }

    public TunnelSettings withPing(Duration interval, Duration timeout) {
        return new TunnelSettings(port, maxStreamsPerConnection, streamWindow, connectionWindow, idleRelease, interval,
                timeout, connectTimeout);
    }

    public TunnelSettings withConnectTimeout(Duration timeout) {
        return new TunnelSettings(port, maxStreamsPerConnection, streamWindow, connectionWindow, idleRelease,
                pingInterval, pingTimeout, timeout);
    }
}
