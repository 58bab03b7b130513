package io.nodemesh.linux;

import java.io.IOException;
import java.lang.ref.Cleaner;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * An open handle on a Linux network namespace (a file descriptor on its nsfs file) that can run
 * code with the calling thread inside that namespace. Sockets created there stay there, which is
 * how the proxy opens listeners and upstream connections inside a pod.
 */
public final class NetworkNamespace implements AutoCloseable {

    private static final String SELF = "/proc/thread-self/ns/net";
    private static final Cleaner CLEANER = Cleaner.create();
    private static final ThreadLocal<ThreadHome> HOME = ThreadLocal.withInitial(ThreadHome::open);

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
        Path self = Path.of(SELF);
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
     *
     * <p>The way back is a handle on the thread's own namespace, opened on the thread's first call
     * and kept for its lifetime (closed by a {@link Cleaner} once the thread is gone), so that an
     * event loop creating a socket per connection pays two {@code setns} calls and no file opens.
     * A nested call (inside another namespace's {@code call}) opens a handle on the current one.
     */
    public <T> T call(Callable<T> body) throws Exception {
        if (Thread.currentThread().isVirtual()) {
            // setns moves the carrier, and a virtual thread may change carriers mid-body.
            throw new IllegalStateException("entering " + path + " needs a platform thread, not a virtual one");
        }
        ThreadHome home = HOME.get();
        boolean nested = home.depth > 0;
        int original = nested ? Libc.open(SELF, Libc.O_RDONLY | Libc.O_CLOEXEC) : home.fd;
        try {
            synchronized (this) {
                if (closed) {
                    throw new IOException("network namespace " + path + " is closed");
                }
                Libc.setns(fd, Libc.CLONE_NEWNET, path.toString());
            }
            home.depth++;
            try {
                return body.call();
            } finally {
                home.depth--;
                try {
                    Libc.setns(original, Libc.CLONE_NEWNET, "the thread's original namespace");
                } catch (IOException e) {
                    throw new IllegalStateException("thread " + Thread.currentThread().getName()
                            + " is stuck in network namespace " + path, e);
                }
            }
        } finally {
            if (nested) {
                Libc.close(original);
            }
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

    /** A thread's handle on the namespace it lives in, and how deep in {@code call}s it is. */
    private static final class ThreadHome {
        final int fd;
        int depth;

        private ThreadHome(int fd) {
            this.fd = fd;
        }

        static ThreadHome open() {
            int fd;
            try {
                fd = Libc.open(SELF, Libc.O_RDONLY | Libc.O_CLOEXEC);
            } catch (IOException e) {
                throw new IllegalStateException("cannot open " + SELF, e);
            }
            CLEANER.register(Thread.currentThread(), () -> Libc.close(fd));
            return new ThreadHome(fd);
        }
    }
}
