package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Socket options no Java API offers, by file descriptor: the packet mark ({@code SO_MARK}), which
 * nodemesh's redirect rules use to let the proxy's own upstream connections through uncaptured.
 */
public final class SocketOptions {

    /** {@code SOL_SOCKET}. */
    public static final int SOL_SOCKET = Libc.SOL_SOCKET;

    private SocketOptions() {
    }

    /**
     * {@code setsockopt(fd, SOL_SOCKET, SO_MARK, mark)}; needs CAP_NET_ADMIN.
     *
     * @throws NativeException naming the call and the errno (EPERM without CAP_NET_ADMIN, EBADF, ENOTSOCK)
     */
    public static void setMark(int fd, int mark) throws IOException {
        Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_MARK, mark, "SOL_SOCKET, SO_MARK, 0x" + Integer.toHexString(mark));
    }

    /** The packet mark of socket {@code fd} ({@code getsockopt SO_MARK}). */
    public static int mark(int fd) throws IOException {
        return intOption(fd, Libc.SOL_SOCKET, Libc.SO_MARK);
    }

    /** An {@code int}-valued socket option of {@code fd}, e.g. {@code SOL_SOCKET, SO_TYPE (3)}. */
    public static int intOption(int fd, int level, int option) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ValueLayout.JAVA_INT);
            Libc.getsockopt(fd, level, option, out, arena);
            return out.get(ValueLayout.JAVA_INT, 0);
        }
    }
}
