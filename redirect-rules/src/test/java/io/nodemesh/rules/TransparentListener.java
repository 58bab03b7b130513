package io.nodemesh.rules;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;

/**
 * A test listener as the proxy's TPROXY capture listeners are: dual-stack on {@code ::}, {@code IP_TRANSPARENT}, its
 * packets carrying the proxy's mark. Each connection is answered with the listener's name and the accepted socket's
 * own local address ({@code getsockname}: where the client sent it), then closed. The JDK has no
 * {@code IP_TRANSPARENT}, so this speaks libc through FFM. {@link #plain} makes one as {@code capture: ebpf}'s inbound
 * listener is: neither transparent nor marked, handed its connections by an {@code sk_lookup} program.
 */
final class TransparentListener implements AutoCloseable {

    private static final int AF_INET6 = 10;
    private static final int SOCK_STREAM = 1;
    private static final int SOL_SOCKET = 1;
    private static final int SO_REUSEADDR = 2;
    private static final int SO_MARK = 36;
    private static final int SOL_IP = 0;
    private static final int IP_TRANSPARENT = 19;
    private static final int SHUT_RDWR = 2;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle SOCKET = function("socket",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle SETSOCKOPT = function("setsockopt", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle BIND = function("bind", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle LISTEN = function("listen",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle ACCEPT = function("accept", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle GETSOCKNAME = function("getsockname", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle WRITE = function("write", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle SHUTDOWN = function("shutdown",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = function("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private final int fd;
    private final Thread acceptor;
    private volatile boolean closed;

    private TransparentListener(int fd, String name) {
        this.fd = fd;
        this.acceptor = Thread.ofPlatform().daemon().name("transparent-" + name).start(() -> serve(name));
    }

    /** Listens on {@code port} in {@code ns}, marked {@code mark}, answering with {@code name}. */
    static TransparentListener open(Netns ns, int port, int mark, String name) throws Exception {
        return open(ns, port, mark, true, name);
    }

    /** Listens on {@code port} in {@code ns}, neither transparent nor marked, answering with {@code name}. */
    static TransparentListener plain(Netns ns, int port, String name) throws Exception {
        return open(ns, port, 0, false, name);
    }

    private static TransparentListener open(Netns ns, int port, int mark, boolean transparent, String name)
            throws Exception {
        int fd = ns.call(() -> {
            try {
                return listen(port, mark, transparent);
            } catch (Exception | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            }
        });
        return new TransparentListener(fd, name);
    }

    /** The listening socket's descriptor. */
    int fd() {
        return fd;
    }

    private static int listen(int port, int mark, boolean transparent) throws Throwable {
        int fd = (int) SOCKET.invokeExact(AF_INET6, SOCK_STREAM, 0);
        check(fd, "socket");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment one = arena.allocateFrom(ValueLayout.JAVA_INT, 1);
            check((int) SETSOCKOPT.invokeExact(fd, SOL_SOCKET, SO_REUSEADDR, one, 4), "setsockopt(SO_REUSEADDR)");
            if (transparent) {
                check((int) SETSOCKOPT.invokeExact(fd, SOL_IP, IP_TRANSPARENT, one, 4), "setsockopt(IP_TRANSPARENT)");
                MemorySegment markValue = arena.allocateFrom(ValueLayout.JAVA_INT, mark);
                check((int) SETSOCKOPT.invokeExact(fd, SOL_SOCKET, SO_MARK, markValue, 4), "setsockopt(SO_MARK)");
            }
            MemorySegment address = arena.allocate(28); // sockaddr_in6 for [::]:port
            address.set(ValueLayout.JAVA_SHORT, 0, (short) AF_INET6);
            address.set(ValueLayout.JAVA_BYTE, 2, (byte) (port >>> 8));
            address.set(ValueLayout.JAVA_BYTE, 3, (byte) port);
            check((int) BIND.invokeExact(fd, address, 28), "bind");
            check((int) LISTEN.invokeExact(fd, 64), "listen");
            return fd;
        } catch (Throwable t) {
            int ignored = (int) CLOSE.invokeExact(fd);
            throw t;
        }
    }

    private void serve(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment address = arena.allocate(28);
            MemorySegment length = arena.allocate(ValueLayout.JAVA_INT);
            while (!closed) {
                int accepted = (int) ACCEPT.invokeExact(fd, MemorySegment.NULL, MemorySegment.NULL);
                if (accepted < 0) {
                    return; // shut down by close()
                }
                try {
                    length.set(ValueLayout.JAVA_INT, 0, 28);
                    check((int) GETSOCKNAME.invokeExact(accepted, address, length), "getsockname");
                    byte[] text = (name + " " + local(address)).getBytes(StandardCharsets.UTF_8);
                    MemorySegment out = arena.allocateFrom(ValueLayout.JAVA_BYTE, text);
                    long ignored = (long) WRITE.invokeExact(accepted, out, (long) text.length);
                } finally {
                    int ignored = (int) CLOSE.invokeExact(accepted);
                }
            }
        } catch (Throwable t) {
            if (!closed) {
                throw new IllegalStateException(t);
            }
        }
    }

    /** A sockaddr_in6's address and port as {@code address port} (an IPv4-mapped address as IPv4). */
    static String local(MemorySegment address) throws IOException {
        int port = ((address.get(ValueLayout.JAVA_BYTE, 2) & 0xff) << 8) | (address.get(ValueLayout.JAVA_BYTE, 3) & 0xff);
        byte[] bytes = address.asSlice(8, 16).toArray(ValueLayout.JAVA_BYTE);
        return InetAddress.getByAddress(bytes).getHostAddress() + " " + port; // the JDK makes IPv4-mapped IPv4
    }

    /** What a listener named {@code name} answers a connection sent to {@code address}:{@code port}. */
    static String answer(String name, InetAddress address, int port) {
        return name + " " + address.getHostAddress() + " " + port;
    }

    @Override
    public void close() throws Exception {
        closed = true;
        try {
            int ignored = (int) SHUTDOWN.invokeExact(fd, SHUT_RDWR); // wakes the blocked accept
            ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
        acceptor.join(5_000);
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
