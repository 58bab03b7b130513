package io.nodemesh.proxy.config;

import io.nodemesh.proxy.transport.TransportKind;
import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * What is fixed once the proxy runs: its event loops, its admin server and where its certificates come from. Read at start (command-line flags over
 * the standalone file's {@code proxy:} section over these defaults); a later change to them takes effect after a
 * restart. Everything else the proxy does follows the snapshot ({@link ProxySettings} and the pods).
 *
 * @param transport requested Netty transport
 * @param workers event-loop threads
 * @param admin address of the admin HTTP server (port 0: ephemeral)
 * @param identity the mesh CA and trust domain of the workload certificates
 */
public record BootSettings(TransportKind transport, int workers, InetSocketAddress admin, IdentitySettings identity) {

    public BootSettings {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(admin, "admin");
        Objects.requireNonNull(identity, "identity");
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be at least 1, not " + workers);
        }
    }

    /** epoll, one worker per core, admin on 127.0.0.1:15000, no mesh CA. */
    public static BootSettings defaults() {
        return new BootSettings(TransportKind.EPOLL, Runtime.getRuntime().availableProcessors(),
                new InetSocketAddress("127.0.0.1", 15000), IdentitySettings.defaults());
    }

    public BootSettings withTransport(TransportKind value) {
        return new BootSettings(value, workers, admin, identity);
    }

    public BootSettings withWorkers(int value) {
        return new BootSettings(transport, value, admin, identity);
    }

    public BootSettings withAdmin(InetSocketAddress value) {
        return new BootSettings(transport, workers, value, identity);
    }
}
