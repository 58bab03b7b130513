package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.Arrays;

/** The handful of libc calls nodemesh makes through the FFM API, with errno captured per call. */
final class Libc {

    static final int O_RDONLY = 0;
    static final int O_CLOEXEC = 0x80000;
    static final int CLONE_NEWNET = 0x40000000;
    static final int SOL_IP = 0;
    static final int SOL_IPV6 = 41;
    static final int SO_ORIGINAL_DST = 80;
    static final int IP6T_SO_ORIGINAL_DST = 80;
    static final int SOL_SOCKET = 1;
    static final int SO_MARK = 36;
    static final int SO_KEEPALIVE = 9;
    static final int IPPROTO_TCP = 6;
    static final int TCP_KEEPIDLE = 4;
    static final int TCP_KEEPINTVL = 5;
    static final int TCP_KEEPCNT = 6;
    static final int PRIO_PROCESS = 0;
    static final int ESRCH = 3;
    static final int EINTR = 4;
    static final int EAGAIN = 11;
    static final int AF_UNIX = 1;
    static final int AF_NETLINK = 16;
    static final int SOCK_RAW = 3;
    static final int SOL_NETLINK = 270;
    static final int NETLINK_EXT_ACK = 11;
    static final int SOCK_SEQPACKET = 5;
    static final int SOCK_CLOEXEC = 0x80000;
    static final int SHUT_RDWR = 2;
    static final int SO_PEERCRED = 17;
    static final int SO_TYPE = 3;
    static final int SO_ACCEPTCONN = 30;
    static final int SO_DOMAIN = 39;
    static final int F_DUPFD_CLOEXEC = 1030;
    static final int O_NONBLOCK = 0x800;
    static final int F_SETPIPE_SZ = 1031;
    static final int SPLICE_F_MOVE = 1;
    static final int SPLICE_F_NONBLOCK = 2;
    static final int SO_RCVTIMEO = 20;
    static final int SO_SNDTIMEO = 21;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_TRUNC = 0x20;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    /** {@code NS_GET_NSTYPE}, {@code _IO(0xb7, 0x3)}: the {@code CLONE_NEW*} type of an nsfs descriptor. */
    static final long NS_GET_NSTYPE = 0xb703;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    // One holder class per downcall handle, so a handle is linked on its first call: linking spins classes at run time
    // that no AOT cache holds (about 3 ms each for the CNI plugin's JVM, which makes a handful of calls and must start
    // fast). Still static finals, so the JIT folds them on the proxy's hot paths.
    private static final class OPEN {
        static final MethodHandle H = downcall("open",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private static final class CLOSE {
        static final MethodHandle H = downcall("close",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class SETNS {
        static final MethodHandle H = downcall("setns",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class GETSOCKOPT {
        static final MethodHandle H = downcall("getsockopt",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    }

    private static final class SETSOCKOPT {
        static final MethodHandle H = downcall("setsockopt",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private static final class SETPRIORITY {
        static final MethodHandle H = downcall("setpriority",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class SOCKET {
        static final MethodHandle H = downcall("socket",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class BIND {
        static final MethodHandle H = downcall("bind",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private static final class CONNECT {
        static final MethodHandle H = downcall("connect",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private static final class LISTEN {
        static final MethodHandle H = downcall("listen",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class ACCEPT4 {
        static final MethodHandle H = downcall("accept4",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS,
                        ValueLayout.JAVA_INT));
    }

    private static final class SHUTDOWN {
        static final MethodHandle H = downcall("shutdown",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    }

    private static final class SENDMSG {
        static final MethodHandle H = downcall("sendmsg",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private static final class SEND {
        static final MethodHandle H = downcall("send",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT));
    }

    private static final class RECV {
        static final MethodHandle H = downcall("recv",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT));
    }

    private static final class RECVMSG {
        static final MethodHandle H = downcall("recvmsg",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    // ioctl is variadic: the linker must be told where the variadic part starts (the unused third argument).
    private static final class IOCTL {
        static final MethodHandle H = downcall("ioctl",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG),
                Linker.Option.firstVariadicArg(2));
    }

    private static final class FCNTL {
        static final MethodHandle H = downcall("fcntl",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT),
                Linker.Option.firstVariadicArg(2));
    }

    private static final class PIPE2 {
        static final MethodHandle H = downcall("pipe2",
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private static final class SPLICE {
        static final MethodHandle H = downcall("splice",
                FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
    }

    private static final class STRERROR {
        static final MethodHandle H = LINKER.downcallHandle(
                LIBC.find("strerror").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    }

    private Libc() {
    }

    static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        Linker.Option[] all = Arrays.copyOf(options, options.length + 1);
        all[options.length] = Linker.Option.captureCallState("errno");
        return LINKER.downcallHandle(symbol, descriptor, all);
    }

    static int open(String path, int flags) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.H.invokeExact(state, arena.allocateFrom(path), flags);
            if (fd < 0) {
                throw failure("open " + path, state);
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("open() downcall failed", t);
        }
    }

    /** {@code close(2)}, its result not looked at; allocates nothing (the call state is the thread's scratch). */
    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.H.invokeExact(SCRATCH.get().state, fd);
        } catch (Throwable t) {
            throw new IllegalStateException("close() downcall failed", t);
        }
    }

    /** {@code pipe2(2)} with {@code flags}: the read end and the write end. */
    static int[] pipe2(int flags) throws IOException {
        Scratch scratch = SCRATCH.get();
        int rc;
        try {
            rc = (int) PIPE2.H.invokeExact(scratch.state, scratch.buffer, flags);
        } catch (Throwable t) {
            throw new IllegalStateException("pipe2() downcall failed", t);
        }
        if (rc != 0) {
            throw failure("pipe2", scratch.state);
        }
        return new int[] {scratch.buffer.get(ValueLayout.JAVA_INT, 0), scratch.buffer.get(ValueLayout.JAVA_INT, 4)};
    }

    /**
     * {@code splice(2)} of up to {@code len} bytes from {@code in} to {@code out} at their current positions: the bytes
     * moved (0: end of input), or the negated errno. Allocates nothing.
     */
    static long splice(int in, int out, long len, int flags) {
        MemorySegment state = SCRATCH.get().state;
        long rc;
        try {
            rc = (long) SPLICE.H.invokeExact(state, in, MemorySegment.NULL, out, MemorySegment.NULL, len, flags);
        } catch (Throwable t) {
            throw new IllegalStateException("splice() downcall failed", t);
        }
        return rc >= 0 ? rc : -errno(state);
    }

    /** {@code setns(2)}; allocates nothing (the call state is the thread's scratch: two calls per upstream socket). */
    static void setns(int fd, int nstype, String what) throws IOException {
        MemorySegment state = SCRATCH.get().state;
        int rc;
        try {
            rc = (int) SETNS.H.invokeExact(state, fd, nstype);
        } catch (Throwable t) {
            throw new IllegalStateException("setns() downcall failed", t);
        }
        if (rc != 0) {
            throw failure("setns into " + what, state);
        }
    }

    /**
     * getsockopt into {@code out}; returns the length the kernel wrote. The call state and the length live in the
     * calling thread's scratch segments, so only {@code out} is the caller's.
     */
    static int getsockopt(int fd, int level, int option, MemorySegment out) throws IOException {
        Scratch scratch = SCRATCH.get();
        scratch.length.set(ValueLayout.JAVA_INT, 0, (int) out.byteSize());
        int rc;
        try {
            rc = (int) GETSOCKOPT.H.invokeExact(scratch.state, fd, level, option, out, scratch.length);
        } catch (Throwable t) {
            throw new IllegalStateException("getsockopt() downcall failed", t);
        }
        if (rc != 0) {
            throw failure("getsockopt(fd " + fd + ", level " + level + ", option " + option + ")", scratch.state);
        }
        return scratch.length.get(ValueLayout.JAVA_INT, 0);
    }

    /** setsockopt with an {@code int} value ({@link #setsockoptInt}); {@code what} names the option in the error. */
    static void setsockopt(int fd, int level, int option, int value, String what) throws IOException {
        int errno = setsockoptInt(fd, level, option, value);
        if (errno != 0) {
            throw failure("setsockopt(fd " + fd + ", " + what + ")", errno);
        }
    }

    /**
     * A thread's call state, one {@code int}, a length and a small buffer, reused by {@link #setsockoptInt},
     * {@link #getsockopt}, {@link #getsockoptScratch}, {@link #setns}, {@link #close}, {@link #pipe2} and
     * {@link #splice}.
     */
    private record Scratch(MemorySegment state, MemorySegment value, MemorySegment length, MemorySegment buffer) {
    }

    /** The largest option {@link #getsockoptScratch} reads: a {@code sockaddr_in6} is 28 bytes. */
    static final int SCRATCH_BYTES = 32;

    /** Freed with its thread (an automatic arena), so short-lived threads leave nothing behind. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(() -> {
        Arena arena = Arena.ofAuto();
        return new Scratch(arena.allocate(CALL_STATE), arena.allocate(ValueLayout.JAVA_INT),
                arena.allocate(ValueLayout.JAVA_INT), arena.allocate(SCRATCH_BYTES, 8));
    });

    /**
     * {@code getsockopt} of an option of at most {@link #SCRATCH_BYTES} bytes into the calling thread's scratch buffer,
     * which it returns: read it before this thread's next call. Allocates no native memory (the original destination is
     * read this way once per captured connection).
     */
    static MemorySegment getsockoptScratch(int fd, int level, int option, int size) throws IOException {
        if (size > SCRATCH_BYTES) {
            throw new IllegalArgumentException("an option of " + size + " bytes does not fit the scratch buffer");
        }
        MemorySegment buffer = SCRATCH.get().buffer;
        getsockopt(fd, level, option, buffer.asSlice(0, size));
        return buffer;
    }

    /**
     * {@code setsockopt} of an {@code int} option, allocating nothing: the call state and the value live in the
     * calling thread's scratch segments (the data path sets options on every upstream socket). Returns 0, or the
     * errno; the caller names the option in its error.
     */
    static int setsockoptInt(int fd, int level, int option, int v) {
        Scratch scratch = SCRATCH.get();
        scratch.value.set(ValueLayout.JAVA_INT, 0, v);
        int rc;
        try {
            rc = (int) SETSOCKOPT.H.invokeExact(scratch.state, fd, level, option, scratch.value,
                    (int) ValueLayout.JAVA_INT.byteSize());
        } catch (Throwable t) {
            throw new IllegalStateException("setsockopt() downcall failed", t);
        }
        return rc == 0 ? 0 : errno(scratch.state);
    }

    /** The exception for {@code what} failing with {@code errno}: the call, the system's text and the number. */
    static NativeException failure(String what, int errno) {
        return new NativeException(what + ": " + strerror(errno) + " (errno " + errno + ")", errno);
    }

    /** {@code setpriority(PRIO_PROCESS, tid, nice)}: on Linux the nice value of one thread (0: the calling one). */
    static void setpriority(int tid, int nice) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) SETPRIORITY.H.invokeExact(state, PRIO_PROCESS, tid, nice);
            if (rc != 0) {
                throw failure("setpriority(PRIO_PROCESS, " + tid + ", " + nice + ")", state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("setpriority() downcall failed", t);
        }
    }

    /** setsockopt with a struct value ({@code struct timeval}, ...); {@code what} names the option in the error. */
    static void setsockopt(int fd, int level, int option, MemorySegment value, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) SETSOCKOPT.H.invokeExact(state, fd, level, option, value, (int) value.byteSize());
            if (rc != 0) {
                throw failure("setsockopt(fd " + fd + ", " + what + ")", state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("setsockopt() downcall failed", t);
        }
    }

    static int socket(int domain, int type, String what) throws IOException {
        return socket(domain, type, 0, what);
    }

    static int socket(int domain, int type, int protocol, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) SOCKET.H.invokeExact(state, domain, type, protocol);
            if (fd < 0) {
                throw failure("socket for " + what, state);
            }
            return fd;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("socket() downcall failed", t);
        }
    }

    static void bind(int fd, MemorySegment address, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) BIND.H.invokeExact(state, fd, address, (int) address.byteSize());
            if (rc != 0) {
                throw failure("bind to " + what, state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("bind() downcall failed", t);
        }
    }

    static void connect(int fd, MemorySegment address, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) CONNECT.H.invokeExact(state, fd, address, (int) address.byteSize());
            if (rc != 0) {
                throw failure("connect to " + what, state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("connect() downcall failed", t);
        }
    }

    static void listen(int fd, int backlog, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) LISTEN.H.invokeExact(state, fd, backlog);
            if (rc != 0) {
                throw failure("listen on " + what, state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("listen() downcall failed", t);
        }
    }

    /** {@code accept4(fd, NULL, NULL, flags)}, again when a signal interrupts it; blocks the calling thread. */
    static int accept4(int fd, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                int accepted = (int) ACCEPT4.H.invokeExact(state, fd, MemorySegment.NULL, MemorySegment.NULL, flags);
                if (accepted >= 0) {
                    return accepted;
                }
                if (errno(state) != EINTR) {
                    throw failure("accept on " + what, state);
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("accept4() downcall failed", t);
        }
    }

    /** {@code shutdown(fd, how)}; a failure (the peer already gone: ENOTCONN) is not reported, as for close. */
    static void shutdown(int fd, int how) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) SHUTDOWN.H.invokeExact(arena.allocate(CALL_STATE), fd, how);
        } catch (Throwable t) {
            throw new IllegalStateException("shutdown() downcall failed", t);
        }
    }

    /** {@code sendmsg}, again when a signal interrupts it; returns the bytes sent. */
    static long sendmsg(int fd, MemorySegment msghdr, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long sent = (long) SENDMSG.H.invokeExact(state, fd, msghdr, flags);
                if (sent >= 0) {
                    return sent;
                }
                if (errno(state) != EINTR) {
                    throw failure("sendmsg on " + what, state);
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("sendmsg() downcall failed", t);
        }
    }

    /** {@code send(fd, buf, len, flags)}, again when a signal interrupts it; returns the bytes sent. */
    static long send(int fd, MemorySegment buffer, long length, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long sent = (long) SEND.H.invokeExact(state, fd, buffer, length, flags);
                if (sent >= 0) {
                    return sent;
                }
                if (errno(state) != EINTR) {
                    throw failure("send on " + what, state);
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("send() downcall failed", t);
        }
    }

    /** {@code recv(fd, buf, len, flags)}, again when a signal interrupts it; returns the bytes received. */
    static long recv(int fd, MemorySegment buffer, long length, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long received = (long) RECV.H.invokeExact(state, fd, buffer, length, flags);
                if (received >= 0) {
                    return received;
                }
                if (errno(state) != EINTR) {
                    throw failure("recv on " + what, state);
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("recv() downcall failed", t);
        }
    }

    /** {@code recvmsg}, again when a signal interrupts it; returns the bytes received (0: the peer closed). */
    static long recvmsg(int fd, MemorySegment msghdr, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long received = (long) RECVMSG.H.invokeExact(state, fd, msghdr, flags);
                if (received >= 0) {
                    return received;
                }
                if (errno(state) != EINTR) {
                    throw failure("recvmsg on " + what, state);
                }
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("recvmsg() downcall failed", t);
        }
    }

    /** An argument-less {@code ioctl(fd, request)}; returns its non-negative result. */
    static int ioctl(int fd, long request, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) IOCTL.H.invokeExact(state, fd, request, 0L);
            if (rc < 0) {
                throw failure(what, state);
            }
            return rc;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("ioctl() downcall failed", t);
        }
    }

    /** {@code fcntl(fd, cmd, arg)} with an {@code int} argument; returns its non-negative result. */
    static int fcntl(int fd, int cmd, int arg, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) FCNTL.H.invokeExact(state, fd, cmd, arg);
            if (rc < 0) {
                throw failure(what, state);
            }
            return rc;
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("fcntl() downcall failed", t);
        }
    }

    static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.H.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    static NativeException failure(String what, MemorySegment state) {
        return failure(what, errno(state));
    }
}
