package io.nodemesh.proxy.config;

import io.nodemesh.proxy.transport.TransportKind;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What is fixed once the proxy runs: its event loops and its admin server. Read at start (command-line flags over
 * the standalone file's {@code proxy:} section over these defaults); a later change to them takes effect after a
 * restart. Everything else the proxy does follows the snapshot ({@link ProxySettings} and the pods).
 *
 * @param transport requested Netty transport
 * @param workers event-loop threads
 * @param admin address of the admin HTTP server (port 0: ephemeral)
 */
public record BootSettings(TransportKind transport, int workers, InetSocketAddress admin) {

    public BootSettings {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(admin, "admin");
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be at least 1, not " + workers);
        }
    }

    /** epoll, one worker per core, admin on 127.0.0.1:15000. */
    public static BootSettings defaults() {
        return new BootSettings(TransportKind.EPOLL, Runtime.getRuntime().availableProcessors(),
                new InetSocketAddress("127.0.0.1", 15000));
    }

    public BootSettings withTransport(TransportKind value) {
        return new BootSettings(value, workers, admin);
    }

    public BootSettings withWorkers(int value) {
        return new BootSettings(transport, value, admin);
    }

    public BootSettings withAdmin(InetSocketAddress value) {
        return new BootSettings(transport, workers, value);
    }
}
