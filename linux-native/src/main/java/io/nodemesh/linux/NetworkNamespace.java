package io.nodemesh.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * An open handle on a Linux network namespace (a file descriptor on its nsfs file) that can run
 * code with the calling thread inside that namespace. Sockets created there stay there, which is
 * how the proxy opens listeners and upstream connections inside a pod.
 */
public final class NetworkNamespace implements AutoCloseable {

    private final Path path;
    private final int fd;
    private boolean closed;

    private NetworkNamespace(Path path, int fd) {
        this.path = path;
        this.fd = fd;
    }

    /**
     * Opens the namespace at {@code path} (e.g. {@code /var/run/netns/x} or {@code /proc/PID/ns/net}).
     *
     * @throws IOException naming the path when it does not exist or is not a network namespace
     */
    public static NetworkNamespace open(Path path) throws IOException {
        if (!Files.exists(path)) {
            throw new NativeException("network namespace " + path + " does not exist", NativeException.ENOENT);
        }
        int fd = Libc.open(path.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
        NetworkNamespace ns = new NetworkNamespace(path, fd);
        try {
            // Prove it is a network namespace now, not on the first connection: enter and leave once.
            ns.call(() -> null);
        } catch (IOException e) {
            ns.close();
            throw new NativeException(path + " is not a usable network namespace: " + e.getMessage(),
                    e instanceof NativeException n ? n.errno() : 0);
        } catch (Exception e) {
            ns.close();
            throw new IOException(path + " is not a usable network namespace", e);
        }
        return ns;
    }

    /** The namespace the calling thread is in right now. */
    public static NetworkNamespace current() throws IOException {
        Path self = Path.of("/proc/thread-self/ns/net");
        return new NetworkNamespace(self, Libc.open(self.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC));
    }

    /** The path this namespace was opened from. */
    public Path path() {
        return path;
    }

    /**
     * Runs {@code body} on the calling thread inside this namespace, then moves the thread back to
     * the namespace it was in. If the thread cannot be moved back it must not run anything else, so
     * that failure is an {@link Error}.
     */
    public <T> T call(Callable<T> body) throws Exception {
        int original = Libc.open("/proc/thread-self/ns/net", Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            synchronized (this) {
                if (closed) {
                    throw new IOException("network namespace " + path + " is closed");
                }
                Libc.setns(fd, Libc.CLONE_NEWNET, path.toString());
            }
            try {
                return body.call();
            } finally {
                try {
                    Libc.setns(original, Libc.CLONE_NEWNET, "the thread's original namespace");
                } catch (IOException e) {
                    throw new IllegalStateException("thread " + Thread.currentThread().getName()
                            + " is stuck in network namespace " + path, e);
                }
            }
        } finally {
            Libc.close(original);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }

    @Override
    public String toString() {
        return "netns " + path;
    }
}
