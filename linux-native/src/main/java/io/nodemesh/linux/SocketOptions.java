package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Socket options by file descriptor, for sockets whatever transport made them: the packet mark ({@code SO_MARK}),
 * which nodemesh's redirect rules use to let the proxy's own upstream connections through uncaptured, transparency
 * ({@code IP_TRANSPARENT}), which a TPROXY capture's listeners need, and TCP keepalive with its three timings.
 */
public final class SocketOptions {

    /** {@code SOL_SOCKET}. */
    public static final int SOL_SOCKET = Libc.SOL_SOCKET;
    private static final int IP_TRANSPARENT = 19;
    private static final int IPV6_TRANSPARENT = 75;

    private SocketOptions() {
    }

    /**
     * {@code setsockopt(fd, SOL_SOCKET, SO_MARK, mark)}; needs CAP_NET_ADMIN. Allocates nothing unless it fails
     * (it runs for every upstream connection).
     *
     * @throws NativeException naming the call and the errno (EPERM without CAP_NET_ADMIN, EBADF, ENOTSOCK)
     */
    public static void setMark(int fd, int mark) throws IOException {
        int errno = Libc.setsockoptInt(fd, Libc.SOL_SOCKET, Libc.SO_MARK, mark);
        if (errno != 0) {
            throw Libc.failure("setsockopt(fd " + fd + ", SOL_SOCKET, SO_MARK, 0x" + Integer.toHexString(mark) + ")",
                    errno);
        }
    }

    /**
     * Makes socket {@code fd} transparent: {@code IP_TRANSPARENT} and, on an IPv6 socket ({@code ipv6}),
     * {@code IPV6_TRANSPARENT}. nft's {@code tproxy} hands connections only to transparent listeners, and a connection
     * such a listener accepts keeps the address it was sent to as its own local address. Needs CAP_NET_ADMIN or
     * CAP_NET_RAW.
     *
     * @throws NativeException naming the option and the errno (EPERM without the capability)
     */
    public static void setTransparent(int fd, boolean ipv6) throws IOException {
        set(fd, Libc.SOL_IP, IP_TRANSPARENT, 1, "IP_TRANSPARENT");
        if (ipv6) {
            set(fd, Libc.SOL_IPV6, IPV6_TRANSPARENT, 1, "IPV6_TRANSPARENT");
        }
    }

    /** Whether socket {@code fd} is transparent ({@code IP_TRANSPARENT}, which an IPv6 socket shares). */
    public static boolean transparent(int fd) throws IOException {
        return intOption(fd, Libc.SOL_IP, IP_TRANSPARENT) != 0;
    }

    /**
     * TCP keepalive on socket {@code fd}: the first probe after {@code idleSeconds} without a segment from the peer,
     * then one every {@code intervalSeconds}, and the connection is dropped (ETIMEDOUT) after {@code probes} of them
     * go unanswered. Set on a listening socket, the connections it accepts inherit all four. Four system calls
     * that allocate nothing; the timings go first, so keepalive never runs with the kernel's (two-hour) defaults.
     *
     * @throws NativeException naming the option and the errno (EINVAL for a value out of the kernel's range)
     */
    public static void setKeepalive(int fd, int idleSeconds, int intervalSeconds, int probes) throws IOException {
        set(fd, Libc.IPPROTO_TCP, Libc.TCP_KEEPIDLE, idleSeconds, "TCP_KEEPIDLE");
        set(fd, Libc.IPPROTO_TCP, Libc.TCP_KEEPINTVL, intervalSeconds, "TCP_KEEPINTVL");
        set(fd, Libc.IPPROTO_TCP, Libc.TCP_KEEPCNT, probes, "TCP_KEEPCNT");
        set(fd, Libc.SOL_SOCKET, Libc.SO_KEEPALIVE, 1, "SO_KEEPALIVE");
    }

    /** Sets an {@code int} option, allocating nothing unless it fails; {@code name} names it in the error. */
    private static void set(int fd, int level, int option, int value, String name) throws NativeException {
        int errno = Libc.setsockoptInt(fd, level, option, value);
        if (errno != 0) {
            throw Libc.failure("setsockopt(fd " + fd + ", " + name + ", " + value + ")", errno);
        }
    }

    /** Turns TCP keepalive off on socket {@code fd} ({@code SO_KEEPALIVE 0}); its timings stay as they were. */
    public static void clearKeepalive(int fd) throws IOException {
        set(fd, Libc.SOL_SOCKET, Libc.SO_KEEPALIVE, 0, "SO_KEEPALIVE");
    }

    /**
     * The TCP keepalive of socket {@code fd}: {@code {idle, interval, probes}} in seconds and count, or null when
     * {@code SO_KEEPALIVE} is off.
     */
    public static int[] keepalive(int fd) throws IOException {
        if (intOption(fd, Libc.SOL_SOCKET, Libc.SO_KEEPALIVE) == 0) {
            return null;
        }
        return new int[] {intOption(fd, Libc.IPPROTO_TCP, Libc.TCP_KEEPIDLE),
                intOption(fd, Libc.IPPROTO_TCP, Libc.TCP_KEEPINTVL), intOption(fd, Libc.IPPROTO_TCP, Libc.TCP_KEEPCNT)};
    }

    /** The packet mark of socket {@code fd} ({@code getsockopt SO_MARK}). */
    public static int mark(int fd) throws IOException {
        return intOption(fd, Libc.SOL_SOCKET, Libc.SO_MARK);
    }

    /** An {@code int}-valued socket option of {@code fd}, e.g. {@code SOL_SOCKET, SO_TYPE (3)}. */
    public static int intOption(int fd, int level, int option) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            Libc.getsockopt(fd, level, option, out);
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /**
     * The cookie of the network namespace socket {@code fd} lives in ({@code getsockopt SO_NETNS_COOKIE}, Linux
     * 5.14): the number eBPF programs see for that namespace ({@code bpf_get_netns_cookie}).
     */
    public static long netnsCookie(int fd) throws IOException {
        MemorySegment out = Libc.getsockoptScratch(fd, Libc.SOL_SOCKET, SO_NETNS_COOKIE, 8);
        return out.get(ValueLayout.JAVA_LONG, 0);
    }

    /**
     * The socket's cookie ({@code getsockopt SO_COOKIE}): the number the kernel names it by to eBPF programs, and
     * what a socket map gives back for it.
     */
    public static long cookie(int fd) throws IOException {
        MemorySegment out = Libc.getsockoptScratch(fd, Libc.SOL_SOCKET, SO_COOKIE, 8);
        return out.get(ValueLayout.JAVA_LONG, 0);
    }

    private static final int SO_COOKIE = 57;
    private static final int SO_NETNS_COOKIE = 71;
}
