package io.nodemesh.linux;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The path of a daemon's Unix socket (the telemetry agent's, the proxy's admin API): made bindable before the bind,
 * restricted after it, removed on close.
 */
public final class UnixSocketFile {

    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private UnixSocketFile() {
    }

    /**
     * Makes {@code path} bindable: creates its directory and removes a stale socket left by a daemon that died.
     * Refuses to remove anything that is not a socket, or a socket another process still listens on.
     *
     * @param inUse the message when another process listens there
     */
    public static void prepare(Path path, String inUse) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new IOException(path + " exists and is not a socket; refusing to replace it");
        }
        if (someoneListens(path)) {
            throw new IOException(inUse);
        }
        Files.delete(path);
    }

    /** Sets the socket's permissions, e.g. {@code rw-------} (0600). */
    public static void restrict(Path path, String permissions) throws IOException {
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(permissions));
    }

    /** Removes the socket if it is there; a failure is left for the next start, which replaces a stale socket. */
    public static void remove(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // The next start replaces a stale socket anyway.
        }
    }

    /**
     * Whether a connect succeeds, as a stream and as a {@link SeqpacketSocket}: a listener of the other type refuses
     * the probe (EPROTOTYPE) just as a stale socket does (ECONNREFUSED), so one probe alone would remove the live
     * CNI socket.
     */
    private static boolean someoneListens(Path path) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            return true;
        } catch (IOException e) {
            // not a stream listener; perhaps a seqpacket one
        }
        try (SeqpacketSocket probe = SeqpacketSocket.connect(path)) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
