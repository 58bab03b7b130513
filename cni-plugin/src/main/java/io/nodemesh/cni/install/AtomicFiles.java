package io.nodemesh.cni.install;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Files replaced so that a reader sees the old bytes or the new, never a part: written to a temp file in the same
 * directory (a name no runtime takes for a config: a leading dot and no config extension), flushed to disk, renamed
 * over the target, and the directory flushed so the rename survives a crash.
 */
final class AtomicFiles {

    private AtomicFiles() {
    }

    /** A temp name beside {@code target}: {@code .<name>.nodemesh-tmp-<random>}. */
    static Path tempBeside(Path target) {
        return target.resolveSibling("." + target.getFileName() + ".nodemesh-tmp-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1));
    }

    /** Replaces {@code target} by {@code bytes}; {@code permissions} for the new file (null: 0644). */
    static void write(Path target, byte[] bytes, Set<PosixFilePermission> permissions) throws IOException {
        Path temp = tempBeside(target);
        try {
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                var buffer = java.nio.ByteBuffer.wrap(bytes);
                while (buffer.hasRemaining()) {
                    out.write(buffer);
                }
                out.force(true);
            }
            Files.setPosixFilePermissions(temp, permissions != null ? permissions
                    : java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            move(temp, target);
        } finally {
            Files.deleteIfExists(temp);
        }
        syncDirectory(target.getParent());
    }

    /** Renames {@code from} over {@code to} in one step (same file system). */
    static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot rename " + from + " to " + to + " in one step: " + e.getMessage(), e);
        }
    }

    /** The permissions of {@code file}, or null when it cannot be read. */
    static Set<PosixFilePermission> permissionsOf(Path file) {
        try {
            return Files.getPosixFilePermissions(file);
        } catch (IOException | UnsupportedOperationException e) {
            return null;
        }
    }

    /** Flushes a directory's entries (a rename) to disk; best effort, as not every file system allows it. */
    static void syncDirectory(Path dir) {
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // a file system without directory sync: the rename is still atomic, only its durability is the kernel's
        }
    }

    /** The SHA-256 of {@code bytes} in hex. */
    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
