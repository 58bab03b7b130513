package io.nodemesh.telemetry.agent;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/** Prepares and tidies the path of the agent's Unix socket. */
final class UnixSocketFile {

    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;

    private UnixSocketFile() {
    }

    /**
     * Makes {@code path} bindable: creates the parent directory and removes a stale socket left by
     * a crashed agent. Refuses to remove anything that is not a socket, or a socket someone still
     * listens on.
     */
    static void prepare(Path path) throws IOException {
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
            throw new IOException("another process is already listening on " + path);
        }
        Files.delete(path);
    }

    /** Restricts the socket to its owner and group (0660). */
    static void restrict(Path path) throws IOException {
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
    }

    static void remove(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // Nothing to do: the next start replaces a stale socket anyway.
        }
    }

    private static boolean someoneListens(Path path) {
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            return true;
        } catch (IOException e) {
            return false;
        }
    }
}
