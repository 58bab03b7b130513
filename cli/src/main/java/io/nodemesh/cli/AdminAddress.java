package io.nodemesh.cli;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.HostPort;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Where the debugging commands find the proxy's admin API: its Unix socket ({@code unix:/var/run/nodemesh/admin.sock})
 * or a TCP address ({@code 127.0.0.1:15000}). Exactly one of the two is set.
 *
 * @param socket the Unix socket, or null
 * @param tcp the TCP address, or null
 */
public record AdminAddress(Path socket, InetSocketAddress tcp) {

    /** The prefix that marks a Unix socket's path. */
    static final String UNIX = "unix:";
    /** The proxy's admin address on loopback unless told otherwise. */
    static final InetSocketAddress DEFAULT_TCP = new InetSocketAddress("127.0.0.1", 15000);
    /** What {@code --admin} says about its default. */
    static final String DEFAULT_DESCRIPTION = "unix:/var/run/nodemesh/admin.sock when it exists, else 127.0.0.1:15000";

    public AdminAddress {
        if ((socket == null) == (tcp == null)) {
            throw new IllegalArgumentException("an admin address is a Unix socket or a TCP address");
        }
    }

    /** The node's socket when there is one (the proxy runs here), else loopback. */
    static AdminAddress byDefault() {
        return Files.exists(BootSettings.DEFAULT_ADMIN_SOCKET) ? new AdminAddress(BootSettings.DEFAULT_ADMIN_SOCKET, null)
                : new AdminAddress(null, DEFAULT_TCP);
    }

    /**
     * Parses {@code unix:PATH} or {@code HOST:PORT}.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    static AdminAddress parse(String text) {
        Objects.requireNonNull(text, "text");
        if (text.startsWith(UNIX)) {
            String path = text.substring(UNIX.length());
            if (path.isEmpty()) {
                throw new IllegalArgumentException("'" + text + "' names no socket (unix:/var/run/nodemesh/admin.sock)");
            }
            return new AdminAddress(Path.of(path), null);
        }
        try {
            return new AdminAddress(null, HostPort.parse(text));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(e.getMessage() + " or unix:PATH");
        }
    }

    /** {@code unix:/path} or {@code host:port}, as {@link #parse} takes it. */
    @Override
    public String toString() {
        return socket != null ? UNIX + socket : HostPort.format(tcp);
    }
}
