package io.nodemesh.rules;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.Inet4Address;
import java.nio.charset.StandardCharsets;

/**
 * A test client whose socket carries a packet mark, as the proxy's own sockets do. The JDK has no
 * SO_MARK option, so this speaks libc directly (socket, setsockopt, connect, read) through FFM.
 */
final class MarkedConnection {

    private static final int AF_INET = 2;
    private static final int SOCK_STREAM = 1;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVTIMEO = 20;
    private static final int SO_SNDTIMEO = 21;
    private static final int SO_MARK = 36;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = function("socket",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle SETSOCKOPT = function("setsockopt", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CONNECT = function("connect", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle READ = function("read", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle CLOSE = function("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private MarkedConnection() {
    }

    /** Connects to an IPv4 address from the calling thread's namespace with {@code mark} set and reads what arrives (5 s limits). */
    static String readGreeting(Inet4Address address, int port, int mark) throws Exception {
        try {
            return exchange(address, port, mark);
        } catch (Exception | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static String exchange(Inet4Address address, int port, int mark) throws Throwable {
        int fd = (int) SOCKET.invokeExact(AF_INET, SOCK_STREAM, 0);
        check(fd, "socket");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment markValue = arena.allocateFrom(ValueLayout.JAVA_INT, mark);
            check((int) SETSOCKOPT.invokeExact(fd, SOL_SOCKET, SO_MARK, markValue, 4), "setsockopt(SO_MARK)");
            MemorySegment timeout = arena.allocate(16);
            timeout.set(ValueLayout.JAVA_LONG, 0, 5);
            check((int) SETSOCKOPT.invokeExact(fd, SOL_SOCKET, SO_RCVTIMEO, timeout, 16), "setsockopt(SO_RCVTIMEO)");
            check((int) SETSOCKOPT.invokeExact(fd, SOL_SOCKET, SO_SNDTIMEO, timeout, 16), "setsockopt(SO_SNDTIMEO)");

            MemorySegment sockaddr = arena.allocate(16);
            sockaddr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET);
            sockaddr.set(ValueLayout.JAVA_BYTE, 2, (byte) (port >>> 8));
            sockaddr.set(ValueLayout.JAVA_BYTE, 3, (byte) port);
            MemorySegment.copy(address.getAddress(), 0, sockaddr, ValueLayout.JAVA_BYTE, 4, 4);
            check((int) CONNECT.invokeExact(fd, sockaddr, 16), "connect");

            MemorySegment buffer = arena.allocate(256);
            StringBuilder text = new StringBuilder();
            long n;
            while ((n = (long) READ.invokeExact(fd, buffer, 256L)) > 0) {
                text.append(new String(buffer.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
            }
            check((int) n, "read");
            return text.toString();
        } finally {
            int ignored = (int) CLOSE.invokeExact(fd);
        }
    }

    private static void check(int result, String call) throws IOException {
        if (result < 0) {
            throw new IOException(call + " failed");
        }
    }

    private static MethodHandle function(String name, FunctionDescriptor descriptor) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), descriptor);
    }
}
