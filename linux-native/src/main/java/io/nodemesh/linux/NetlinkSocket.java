package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

/**
 * A netlink socket to the kernel ({@code AF_NETLINK}, {@code SOCK_RAW}), for talking to a subsystem such as
 * nf_tables without running its command-line tool: the redirect rules of a pod go in as one nf_tables transaction
 * from the proxy's own thread instead of a forked {@code nft}.
 *
 * <p>A netlink socket belongs to the network namespace it was created in, so open it inside
 * {@link NetworkNamespace#call}: everything sent on it acts on that namespace, wherever the thread goes afterwards.
 * Created {@code SOCK_CLOEXEC}, with extended acknowledgements on (the kernel's own words for what it refused) and a
 * receive timeout, so that a kernel that never answers fails the call instead of blocking for ever.
 *
 * <p>Not thread-safe: one thread opens it, uses it and closes it (its buffers are confined to that thread).
 */
public final class NetlinkSocket implements AutoCloseable {

    /** The nfnetlink family: nf_tables, conntrack, … ({@code NETLINK_NETFILTER}). */
    public static final int NETLINK_NETFILTER = 12;

    /** Room for one datagram from the kernel: a dump part is at most 32 KiB. */
    private static final int RECEIVE_BUFFER = 64 * 1024;
    private static final int MSG_TRUNC = 0x20;

    private final int fd;
    private final String name;
    private final Arena arena;
    private final MemorySegment receiveBuffer;
    private MemorySegment sendBuffer;
    private boolean closed;

    private NetlinkSocket(int fd, String name, Arena arena) {
        this.fd = fd;
        this.name = name;
        this.arena = arena;
        this.receiveBuffer = arena.allocate(RECEIVE_BUFFER, 8);
        this.sendBuffer = arena.allocate(16 * 1024, 8);
    }

    /**
     * A socket of netlink {@code protocol} in the calling thread's network namespace.
     *
     * @param timeout how long {@link #receive()} waits for the kernel before failing with EAGAIN; must be positive
     */
    public static NetlinkSocket open(int protocol, Duration timeout) throws IOException {
        if (timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("a netlink socket needs a positive receive timeout, not " + timeout);
        }
        String name = "netlink socket (protocol " + protocol + ")";
        int fd = Libc.socket(Libc.AF_NETLINK, Libc.SOCK_RAW | Libc.SOCK_CLOEXEC, protocol, name);
        Arena arena = Arena.ofConfined();
        try {
            // Best effort: without it (kernels before 4.12) errors come with their errno only.
            try {
                Libc.setsockopt(fd, Libc.SOL_NETLINK, Libc.NETLINK_EXT_ACK, 1, "SOL_NETLINK, NETLINK_EXT_ACK");
            } catch (NativeException ignored) {
                // the errno alone will have to do
            }
            long micros = Math.max(1, timeout.toNanos() / 1000);
            MemorySegment timeval = arena.allocate(16, 8);
            timeval.set(ValueLayout.JAVA_LONG, 0, micros / 1_000_000);
            timeval.set(ValueLayout.JAVA_LONG, 8, micros % 1_000_000);
            Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_RCVTIMEO, timeval, "SOL_SOCKET, SO_RCVTIMEO, " + timeout);
            return new NetlinkSocket(fd, name, arena);
        } catch (IOException | RuntimeException e) {
            Libc.close(fd);
            arena.close();
            throw e;
        }
    }

    /** Sends the bytes between {@code message}'s position and limit (one or more netlink messages) to the kernel. */
    public void send(ByteBuffer message) throws IOException {
        requireOpen();
        int length = message.remaining();
        if (sendBuffer.byteSize() < length) {
            sendBuffer = arena.allocate(Math.max(length, sendBuffer.byteSize() * 2), 8);
        }
        MemorySegment.copy(MemorySegment.ofBuffer(message), 0, sendBuffer, 0, length);
        long sent = Libc.send(fd, sendBuffer, length, Libc.MSG_NOSIGNAL, name);
        if (sent != length) {
            throw new NativeException("send on " + name + ": " + sent + " of " + length + " bytes went", 0);
        }
    }

    /**
     * The next datagram from the kernel (one or more netlink messages), in a buffer of native byte order.
     *
     * @throws NativeException EAGAIN, saying so, when the kernel sent nothing within the timeout
     */
    public ByteBuffer receive() throws IOException {
        requireOpen();
        long received;
        try {
            received = Libc.recv(fd, receiveBuffer, RECEIVE_BUFFER, MSG_TRUNC, name);
        } catch (NativeException e) {
            if (e.errno() == Libc.EAGAIN) {
                throw new NativeException("the kernel did not answer on " + name + " in time", Libc.EAGAIN);
            }
            throw e;
        }
        if (received > RECEIVE_BUFFER) {
            throw new NativeException("a datagram of " + received + " bytes on " + name + " did not fit in "
                    + RECEIVE_BUFFER, 0);
        }
        ByteBuffer copy = ByteBuffer.allocate((int) received).order(ByteOrder.nativeOrder());
        MemorySegment.copy(receiveBuffer, 0, MemorySegment.ofBuffer(copy), 0, received);
        return copy;
    }

    /** The C library's text for {@code errno}, as a netlink error message carries only the number. */
    public static String describe(int errno) {
        return Libc.strerror(errno);
    }

    private void requireOpen() throws IOException {
        if (closed) {
            throw new IOException(name + " is closed");
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            Libc.close(fd);
            arena.close();
        }
    }
}
