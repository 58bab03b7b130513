package io.nodemesh.proxy.config;

import io.nodemesh.proxy.transport.TransportKind;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.Objects;

/**
 * What is fixed once the proxy runs: its event loops, its admin server, its readiness probe and where its certificates
 * come from. Read at start (command-line flags over the standalone file's {@code proxy:} section over these defaults);
 * a later change to them takes effect after a restart. Everything else the proxy does follows the snapshot
 * ({@link ProxySettings} and the pods).
 *
 * @param transport requested Netty transport
 * @param workers event-loop threads
 * @param admin address of the admin HTTP server (port 0: ephemeral)
 * @param adminSocket the Unix socket the admin API is also served on (owner-only, for the node's CLI)
 * @param readiness address of the readiness probe, {@code /healthz/ready} (port 0: ephemeral)
 * @param identity the mesh CA and trust domain of the workload certificates
 */
public record BootSettings(TransportKind transport, int workers, InetSocketAddress admin, Path adminSocket,
        InetSocketAddress readiness, IdentitySettings identity) {

    /** Where the admin API's Unix socket is unless told otherwise. */
    public static final Path DEFAULT_ADMIN_SOCKET = Path.of("/var/run/nodemesh/admin.sock");

    public BootSettings {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(admin, "admin");
        Objects.requireNonNull(adminSocket, "adminSocket");
        Objects.requireNonNull(readiness, "readiness");
        Objects.requireNonNull(identity, "identity");
        if (workers < 1) {
            throw new IllegalArgumentException("workers must be at least 1, not " + workers);
        }
    }

    /**
     * epoll, one worker per core, admin on 127.0.0.1:15000 and {@link #DEFAULT_ADMIN_SOCKET}, readiness on :15021, no
     * mesh CA.
     */
    public static BootSettings defaults() {
        return new BootSettings(TransportKind.EPOLL, Runtime.getRuntime().availableProcessors(),
                new InetSocketAddress("127.0.0.1", 15000), DEFAULT_ADMIN_SOCKET,
                new InetSocketAddress("127.0.0.1", 15021), IdentitySettings.defaults());
    }

    public BootSettings withTransport(TransportKind value) {
        return new BootSettings(value, workers, admin, adminSocket, readiness, identity);
    }

    public BootSettings withWorkers(int value) {
        return new BootSettings(transport, value, admin, adminSocket, readiness, identity);
    }

    public BootSettings withAdmin(InetSocketAddress value) {
        return new BootSettings(transport, workers, value, adminSocket, readiness, identity);
    }

    public BootSettings withAdminSocket(Path value) {
        return new BootSettings(transport, workers, admin, value, readiness, identity);
    }

    public BootSettings withReadiness(InetSocketAddress value) {
        return new BootSettings(transport, workers, admin, adminSocket, value, identity);
    }
}
