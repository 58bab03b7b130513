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
    private final String name;
    private final int fd;
    private boolean closed;

    private NetworkNamespace(Path path, String name, int fd) {
        this.path = path;
        this.name = name;
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
        NetworkNamespace ns = new NetworkNamespace(path, path.toString(), fd);
        try {
            ns.prove();
        } catch (IOException e) {
            ns.close();
            throw e;
        }
        return ns;
    }

    /**
     * Takes an open descriptor on a network namespace, such as the one a CNI plugin sends with an ADD. Its
     * {@link #path()} is {@code /proc/<this process>/fd/<fd>}, which other processes (a forked iptables-restore,
     * {@code nsenter --net=}) can open for as long as this namespace is open.
     *
     * <p>Ownership: on success the namespace owns {@code fd} and closes it on {@link #close()}; on failure the
     * descriptor is untouched and still the caller's to close (so that a caller closing every descriptor it
     * received on a refusal never closes a number twice).
     *
     * @param description what the descriptor is, for messages (e.g. {@code "netns of pod shop/cart-7d9"})
     * @throws NativeException naming {@code description} when {@code fd} is not a network namespace
     *         ({@code NS_GET_NSTYPE}) or cannot be entered
     */
    public static NetworkNamespace adopt(int fd, String description) throws IOException {
        int type = Descriptors.namespaceType(fd);
        if (type != Libc.CLONE_NEWNET) {
            throw new NativeException(description + " (fd " + fd + ", " + Descriptors.describe(fd)
                    + ") is a namespace of type 0x" + Integer.toHexString(type) + ", not a network namespace", 0);
        }
        Path path = Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd);
        NetworkNamespace ns = new NetworkNamespace(path, description + " (" + path + ")", fd);
        // Not closed on failure: the descriptor is still the caller's (see above). ns is dropped unclosed.
        ns.prove();
        return ns;
    }

    /** Proves it is a network namespace now, not on the first connection: enters and leaves once. */
    private void prove() throws IOException {
        try {
            call(() -> null);
        } catch (IOException e) {
            throw new NativeException(name + " is not a usable network namespace: " + e.getMessage(),
                    e instanceof NativeException n ? n.errno() : 0);
        } catch (Exception e) {
            throw new IOException(name + " is not a usable network namespace", e);
        }
    }

    /** The namespace the calling thread is in right now. */
    public static NetworkNamespace current() throws IOException {
        Path self = Path.of(SELF);
        return new NetworkNamespace(self, self.toString(), Libc.open(self.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC));
    }

    /**
     * The path this namespace was opened from, or for an {@link #adopt adopted} descriptor its
     * {@code /proc/<pid>/fd/<fd>} path (which names something else once this namespace is closed).
     */
    public Path path() {
        return path;
    }

    /** The descriptor this namespace holds, e.g. to pass it on; it stays this namespace's to close. */
    public int fd() {
        return fd;
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
            throw new IllegalStateException("entering " + name + " needs a platform thread, not a virtual one");
        }
        ThreadHome home = HOME.get();
        boolean nested = home.depth > 0;
        int original = nested ? Libc.open(SELF, Libc.O_RDONLY | Libc.O_CLOEXEC) : home.fd;
        try {
            synchronized (this) {
                if (closed) {
                    throw new IOException("network namespace " + name + " is closed");
                }
                Libc.setns(fd, Libc.CLONE_NEWNET, name);
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
                            + " is stuck in network namespace " + name, e);
                }
            }
        } finally {
            if (nested) {
                Libc.close(original);
            }
        }
    }

    /**
     * The namespace's cookie: {@code SO_NETNS_COOKIE} of a socket made in it (a Unix datagram socket, made and closed
     * here), the number eBPF programs see for it ({@code bpf_get_netns_cookie}). Needs a platform thread.
     */
    public long cookie() throws IOException {
        try {
            return call(() -> {
                int socket = Libc.socket(Libc.AF_UNIX, SOCK_DGRAM | Libc.SOCK_CLOEXEC, "the cookie of " + name);
                try {
                    return SocketOptions.netnsCookie(socket);
                } finally {
                    Libc.close(socket);
                }
            });
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("the cookie of network namespace " + name + ": " + e.getMessage(), e);
        }
    }

    private static final int SOCK_DGRAM = 2;

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
        }
    }

    @Override
    public String toString() {
        return "netns " + name;
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
