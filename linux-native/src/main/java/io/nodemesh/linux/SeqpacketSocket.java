package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.AsynchronousCloseException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * An {@code AF_UNIX} {@code SOCK_SEQPACKET} socket that passes descriptors ({@code SCM_RIGHTS}): the CNI control
 * socket (docs/cni.md), where one datagram is one request or reply and an ADD carries the pod's network namespace.
 * Created {@code SOCK_CLOEXEC}, and received descriptors {@code MSG_CMSG_CLOEXEC}, so that neither leaks into
 * processes the proxy starts (iptables-restore).
 *
 * <p>The JDK's Unix-domain channels have neither {@code SOCK_SEQPACKET} nor descriptor passing. Neither has
 * jnr-unixsocket: it opens {@code SOCK_STREAM} and {@code SOCK_DGRAM} sockets only and has no {@code sendmsg} or
 * {@code recvmsg}, and it would bring jnr-ffi, which generates its bindings with ASM at start-up, into a process that
 * already reaches libc through FFM.
 *
 * <p>Calls block the calling thread in the kernel (a virtual thread pins its carrier), so run them on a platform
 * thread of their own. {@link #close()} may come from any thread: it wakes a blocked {@link #accept()} or
 * {@link #receive} with {@code shutdown} and closes the descriptor only once no call is using it, so a call never acts
 * on a number the process has reused for something else.
 *
 * <p>A listener whose descriptor another process also holds (one passed on with {@link #duplicate()}, taken in with
 * {@link #adopt}) is one socket with two owners: {@code shutdown} by either stops it for both (new connections are
 * refused, the other's {@code accept} fails), while a plain {@code close(2)} drops only the closer's reference and
 * does not wake a thread of the closer blocked in {@code accept}, which would go on to accept the next connection. So
 * a holder that lets go gives its {@code accept} a {@link #timeouts(Duration) receive timeout} (on Linux,
 * {@code SO_RCVTIMEO} bounds {@code accept} on {@code AF_UNIX}), waits until no call of its own is in the kernel and
 * only then closes: {@link #close()} then closes without {@code shutdown}.
 */
public final class SeqpacketSocket implements AutoCloseable {

    /** The credentials of the process at the other end when it connected ({@code SO_PEERCRED}). */
    public record PeerCredentials(int pid, int uid, int gid) {
    }

    /**
     * One datagram. The caller owns every descriptor in {@code fds} and must close each, whatever else it decides
     * about the datagram: they are already installed in this process.
     *
     * @param data the datagram's bytes, at most the {@code maxBytes} asked for
     * @param fds the descriptors that came with it, installed close-on-exec
     * @param truncated the datagram was longer than {@code maxBytes} (the rest is lost)
     * @param controlTruncated more descriptors came than there was room for; the kernel closed the rest
     * @param endOfStream the peer closed or shut down its end; {@code data} and {@code fds} are empty
     */
    public record Received(byte[] data, int[] fds, boolean truncated, boolean controlTruncated, boolean endOfStream) {
    }

    /** Linux refuses more descriptors than this in one message ({@code SCM_MAX_FD}). */
    public static final int MAX_FDS = 253;

    // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }
    private static final int SUN_PATH = 108;
    // LP64 struct msghdr: { void *name; socklen_t namelen; (4 pad) struct iovec *iov; size_t iovlen;
    //                       void *control; size_t controllen; int flags; (4 pad) }
    private static final long MSGHDR_SIZE = 56;
    private static final long MSG_IOV = 16;
    private static final long MSG_IOVLEN = 24;
    private static final long MSG_CONTROL = 32;
    private static final long MSG_CONTROLLEN = 40;
    private static final long MSG_FLAGS = 48;
    // struct iovec { void *base; size_t len; }
    private static final long IOVEC_SIZE = 16;
    // struct cmsghdr { size_t len; int level; int type; } then the data, aligned to sizeof(size_t)
    private static final long CMSG_HEADER = 16;
    private static final long CMSG_LEVEL = 8;
    private static final long CMSG_TYPE = 12;

    private final String name;
    private final Object lock = new Object();
    private int fd;
    private int callsInFlight;
    private boolean closed;
    private volatile Duration timeout = Duration.ZERO;

    private SeqpacketSocket(int fd, String name) {
        this.fd = fd;
        this.name = name;
    }

    /**
     * A socket listening at {@code path}, mode 0600 (root only, as the CNI plugin runs). The path must not exist:
     * {@link UnixSocketFile#prepare} makes it bindable first, and removing it after {@link #close()} is the caller's
     * too ({@link UnixSocketFile#remove}).
     *
     * @throws NativeException naming the path (EADDRINUSE when it exists; the socket file is removed again when
     *         listening fails after the bind)
     */
    public static SeqpacketSocket listen(Path path, int backlog) throws IOException {
        int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, path.toString());
        boolean bound = false;
        try (Arena arena = Arena.ofConfined()) {
            Libc.bind(fd, address(path, arena), path.toString());
            bound = true;
            // Restricted before listen(): until then every connect is refused, so there is no moment in which the
            // umask's mode lets another user in.
            UnixSocketFile.restrict(path, "rw-------");
            Libc.listen(fd, backlog, path.toString());
        } catch (IOException | RuntimeException e) {
            Libc.close(fd);
            if (bound) {
                UnixSocketFile.remove(path);
            }
            throw e;
        }
        return new SeqpacketSocket(fd, "seqpacket socket " + path);
    }

    /**
     * Takes over {@code fd}, a listening {@code AF_UNIX} {@code SOCK_SEQPACKET} socket received from another process
     * (or duplicated here): the same socket, bound where it was bound, with the same queue of connections. Closing it
     * does not remove the socket file.
     *
     * @param name what to call it in messages, e.g. {@code "seqpacket socket /var/run/nodemesh/cni.sock"}
     * @throws IOException when {@code fd} is not such a socket; {@code fd} is closed then too
     */
    public static SeqpacketSocket adopt(int fd, String name) throws IOException {
        if (!Descriptors.isSeqpacketListener(fd)) {
            String what = Descriptors.describe(fd);
            Libc.close(fd);
            throw new IOException(name + ": descriptor " + fd + " (" + what + ") is not a listening AF_UNIX "
                    + "SOCK_SEQPACKET socket");
        }
        return new SeqpacketSocket(fd, name);
    }

    /** A socket connected to the listener at {@code path}; a full backlog blocks the connect (no timeout). */
    public static SeqpacketSocket connect(Path path) throws IOException {
        return connect(path, Duration.ZERO);
    }

    /**
     * A socket connected to the listener at {@code path}, with {@link #timeouts(Duration) timeouts} set before the
     * connect, so that a listener whose backlog is full (a proxy that has stopped accepting) fails the connect with
     * EAGAIN after {@code timeout} instead of blocking for ever. {@link Duration#ZERO}: no timeout.
     */
    public static SeqpacketSocket connect(Path path, Duration timeout) throws IOException {
        int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_CLOEXEC, path.toString());
        SeqpacketSocket socket = new SeqpacketSocket(fd, "seqpacket connection to " + path);
        try (Arena arena = Arena.ofConfined()) {
            socket.timeouts(timeout);
            Libc.connect(fd, address(path, arena), path.toString());
        } catch (NativeException e) {
            socket.close();
            throw e.errno() == Libc.EAGAIN ? timedOut("connect to " + path, timeout) : e;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
        return socket;
    }

    /**
     * Waits for the next connection, for at most the receive timeout when one is {@link #timeouts(Duration) set}.
     * The accepted socket has no timeouts (they are not inherited): set them.
     *
     * @throws AsynchronousCloseException when {@link #close()} ends the wait
     * @throws NativeException EAGAIN, saying it timed out, when the receive timeout ran out
     */
    public SeqpacketSocket accept() throws IOException {
        int listening = acquire();
        try {
            return new SeqpacketSocket(Libc.accept4(listening, Libc.SOCK_CLOEXEC, name), "connection on " + name);
        } catch (NativeException e) {
            if (closedMeanwhile()) {
                throw asyncClose(e);
            }
            throw e.errno() == Libc.EAGAIN ? timedOut("accept on " + name, timeout) : e;
        } finally {
            release();
        }
    }

    /**
     * A second descriptor for this socket ({@code F_DUPFD_CLOEXEC}), the caller's to close: to pass the socket to
     * another process, which then holds the same socket (see the class comment on letting go of a shared listener).
     */
    public int duplicate() throws IOException {
        int socket = acquire();
        try {
            return Descriptors.duplicate(socket);
        } finally {
            release();
        }
    }

    /** The credentials of the peer when it connected (for an accepted socket: the client's). */
    public PeerCredentials peerCredentials() throws IOException {
        int socket = acquire();
        try (Arena arena = Arena.ofConfined()) {
            // struct ucred { pid_t pid; uid_t uid; gid_t gid; }
            MemorySegment ucred = arena.allocate(12, 4);
            Libc.getsockopt(socket, Libc.SOL_SOCKET, Libc.SO_PEERCRED, ucred);
            return new PeerCredentials(ucred.get(ValueLayout.JAVA_INT, 0), ucred.get(ValueLayout.JAVA_INT, 4),
                    ucred.get(ValueLayout.JAVA_INT, 8));
        } finally {
            release();
        }
    }

    /**
     * Sets the receive and send timeouts ({@code SO_RCVTIMEO}, {@code SO_SNDTIMEO}); {@link Duration#ZERO} waits for
     * ever. A call that runs out of time throws a {@link NativeException} with errno {@link NativeException#EAGAIN}
     * whose message says it timed out.
     */
    public void timeouts(Duration timeout) throws IOException {
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("a timeout cannot be negative: " + timeout);
        }
        long micros = timeout.toNanos() / 1000;
        if (micros == 0 && !timeout.isZero()) {
            micros = 1; // below the kernel's resolution; zero would mean no timeout at all
        }
        int socket = acquire();
        try (Arena arena = Arena.ofConfined()) {
            // struct timeval { time_t tv_sec; suseconds_t tv_usec; }
            MemorySegment timeval = arena.allocate(16, 8);
            timeval.set(ValueLayout.JAVA_LONG, 0, micros / 1_000_000);
            timeval.set(ValueLayout.JAVA_LONG, 8, micros % 1_000_000);
            Libc.setsockopt(socket, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, timeval, "SOL_SOCKET, SO_RCVTIMEO, " + timeout);
            Libc.setsockopt(socket, Libc.SOL_SOCKET, Libc.SO_SNDTIMEO, timeval, "SOL_SOCKET, SO_SNDTIMEO, " + timeout);
            this.timeout = timeout;
        } finally {
            release();
        }
    }

    /**
     * Sends {@code message} as one datagram, with {@code fds} (at most {@link #MAX_FDS}) as one {@code SCM_RIGHTS}
     * control message when there are any. The descriptors stay this process's to close; the peer gets copies.
     *
     * @throws NativeException EAGAIN when the send timeout ran out, EMSGSIZE when the datagram is larger than the
     *         socket's send buffer, EPIPE when the peer is gone
     */
    public void send(byte[] message, int... fds) throws IOException {
        if (fds.length > MAX_FDS) {
            throw new IllegalArgumentException("at most " + MAX_FDS + " descriptors in one message, got " + fds.length);
        }
        int socket = acquire();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(Math.max(1, message.length));
            MemorySegment.copy(message, 0, data, ValueLayout.JAVA_BYTE, 0, message.length);
            MemorySegment msghdr = msghdr(arena, data, message.length);
            if (fds.length > 0) {
                long space = cmsgSpace(fds.length);
                MemorySegment control = arena.allocate(space, 8);
                control.set(ValueLayout.JAVA_LONG, 0, CMSG_HEADER + (long) Integer.BYTES * fds.length);
                control.set(ValueLayout.JAVA_INT, CMSG_LEVEL, Libc.SOL_SOCKET);
                control.set(ValueLayout.JAVA_INT, CMSG_TYPE, Libc.SCM_RIGHTS);
                MemorySegment.copy(fds, 0, control, ValueLayout.JAVA_INT, CMSG_HEADER, fds.length);
                msghdr.set(ValueLayout.ADDRESS, MSG_CONTROL, control);
                msghdr.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, space);
            }
            // MSG_NOSIGNAL: a peer that has gone is an EPIPE here, not a SIGPIPE for the whole process.
            long sent;
            try {
                sent = Libc.sendmsg(socket, msghdr, Libc.MSG_NOSIGNAL, name);
            } catch (NativeException e) {
                throw e.errno() == Libc.EAGAIN ? timedOut("send on " + name, timeout) : e;
            }
            if (sent != message.length) {
                // SOCK_SEQPACKET sends a datagram whole or not at all; anything else is a kernel we do not know.
                throw new IOException(name + ": sent " + sent + " of " + message.length + " bytes");
            }
        } finally {
            release();
        }
    }

    /**
     * Receives the next datagram, at most {@code maxBytes} of it and at most {@code maxFds} descriptors. Every
     * descriptor the kernel installed is in the result, whatever was truncated, so that the caller can close them.
     * An empty datagram cannot be told from the end of the stream on {@code SOCK_SEQPACKET}: don't send one.
     *
     * @throws NativeException EAGAIN, saying it timed out, when the receive timeout ran out
     */
    public Received receive(int maxBytes, int maxFds) throws IOException {
        if (maxBytes < 0 || maxFds < 0 || maxFds > MAX_FDS) {
            throw new IllegalArgumentException("maxBytes must be 0 or more and maxFds 0.." + MAX_FDS + ", got "
                    + maxBytes + " and " + maxFds);
        }
        int socket = acquire();
        try (Arena arena = Arena.ofConfined()) {
            // One byte more than asked for: a datagram of exactly maxBytes + 1 bytes sets no MSG_TRUNC, but is too long.
            MemorySegment data = arena.allocate(maxBytes + 1L);
            MemorySegment msghdr = msghdr(arena, data, data.byteSize());
            MemorySegment control = MemorySegment.NULL;
            if (maxFds > 0) {
                control = arena.allocate(cmsgSpace(maxFds), 8);
                msghdr.set(ValueLayout.ADDRESS, MSG_CONTROL, control);
                // CMSG_LEN, not CMSG_SPACE: the kernel fills the alignment padding with descriptors too (an odd
                // maxFds would take one more), and every one it installs is one the caller has to close.
                msghdr.set(ValueLayout.JAVA_LONG, MSG_CONTROLLEN, CMSG_HEADER + (long) Integer.BYTES * maxFds);
            }
            long length;
            try {
                length = Libc.recvmsg(socket, msghdr, Libc.MSG_CMSG_CLOEXEC, name);
            } catch (NativeException e) {
                throw e.errno() == Libc.EAGAIN ? timedOut("receive on " + name, timeout) : e;
            }
            int flags = msghdr.get(ValueLayout.JAVA_INT, MSG_FLAGS);
            int[] fds = maxFds == 0 ? new int[0]
                    : descriptors(control, msghdr.get(ValueLayout.JAVA_LONG, MSG_CONTROLLEN));
            boolean controlTruncated = (flags & Libc.MSG_CTRUNC) != 0;
            if (length == 0 && fds.length == 0 && !controlTruncated) {
                return new Received(new byte[0], fds, false, false, true);
            }
            byte[] bytes = data.asSlice(0, Math.min(length, maxBytes)).toArray(ValueLayout.JAVA_BYTE);
            boolean truncated = (flags & Libc.MSG_TRUNC) != 0 || length > maxBytes;
            return new Received(bytes, fds, truncated, controlTruncated, false);
        } finally {
            release();
        }
    }

    /**
     * Closes the socket; idempotent, from any thread. A call blocked in {@link #accept()} or {@link #receive} wakes
     * ({@code accept} with {@link AsynchronousCloseException}, {@code receive} with end of stream), and the
     * descriptor is closed when the last such call has returned. The socket file of a listener stays (see
     * {@link #listen}).
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            if (callsInFlight > 0) {
                // Wakes them; the last one out closes the descriptor (release), never a number reused meanwhile.
                Libc.shutdown(fd, Libc.SHUT_RDWR);
            } else {
                Libc.close(fd);
            }
        }
    }

    @Override
    public String toString() {
        return name;
    }

    private int acquire() throws IOException {
        synchronized (lock) {
            if (closed) {
                throw new IOException(name + " is closed");
            }
            callsInFlight++;
            return fd;
        }
    }

    private void release() {
        synchronized (lock) {
            if (--callsInFlight == 0 && closed) {
                Libc.close(fd);
            }
        }
    }

    private boolean closedMeanwhile() {
        synchronized (lock) {
            return closed;
        }
    }

    private static IOException asyncClose(NativeException cause) {
        AsynchronousCloseException e = new AsynchronousCloseException();
        e.initCause(cause);
        return e;
    }

    private static NativeException timedOut(String what, Duration timeout) {
        return new NativeException(what + " timed out after " + timeout, Libc.EAGAIN);
    }

    private static MemorySegment address(Path path, Arena arena) throws IOException {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length >= SUN_PATH) {
            throw new IOException("socket path " + path + " is " + bytes.length + " bytes long; Linux takes at most "
                    + (SUN_PATH - 1));
        }
        MemorySegment address = arena.allocate(2 + SUN_PATH, 2); // zeroed: the path ends with a NUL
        address.set(ValueLayout.JAVA_SHORT, 0, (short) Libc.AF_UNIX);
        MemorySegment.copy(bytes, 0, address, ValueLayout.JAVA_BYTE, 2, bytes.length);
        return address;
    }

    /** A zeroed msghdr whose one iovec is the first {@code length} bytes of {@code data}. */
    private static MemorySegment msghdr(Arena arena, MemorySegment data, long length) {
        MemorySegment iovec = arena.allocate(IOVEC_SIZE, 8);
        iovec.set(ValueLayout.ADDRESS, 0, data);
        iovec.set(ValueLayout.JAVA_LONG, 8, length);
        MemorySegment msghdr = arena.allocate(MSGHDR_SIZE, 8);
        msghdr.set(ValueLayout.ADDRESS, MSG_IOV, iovec);
        msghdr.set(ValueLayout.JAVA_LONG, MSG_IOVLEN, 1);
        return msghdr;
    }

    /** {@code CMSG_SPACE(fds * sizeof(int))}: header plus data, rounded up to the alignment of the next header. */
    private static long cmsgSpace(int fds) {
        return CMSG_HEADER + align((long) Integer.BYTES * fds);
    }

    private static long align(long length) {
        return (length + 7) & ~7L;
    }

    /**
     * Every descriptor in the {@code length} bytes of control data the kernel wrote, from all of its
     * {@code SCM_RIGHTS} messages; a truncated one is read as far as it goes.
     */
    private static int[] descriptors(MemorySegment control, long length) {
        int[] fds = new int[0];
        long offset = 0;
        while (offset + CMSG_HEADER <= length) {
            long cmsgLength = control.get(ValueLayout.JAVA_LONG, offset);
            if (cmsgLength < CMSG_HEADER) {
                break; // malformed: CMSG_NXTHDR would stop here too
            }
            long end = Math.min(offset + cmsgLength, length);
            if (control.get(ValueLayout.JAVA_INT, offset + CMSG_LEVEL) == Libc.SOL_SOCKET
                    && control.get(ValueLayout.JAVA_INT, offset + CMSG_TYPE) == Libc.SCM_RIGHTS) {
                int count = (int) ((end - offset - CMSG_HEADER) / Integer.BYTES);
                int[] more = control.asSlice(offset + CMSG_HEADER, (long) count * Integer.BYTES)
                        .toArray(ValueLayout.JAVA_INT);
                fds = Arrays.copyOf(fds, fds.length + count);
                System.arraycopy(more, 0, fds, fds.length - count, count);
            }
            offset += align(cmsgLength);
        }
        return fds;
    }
}
