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

/**
 * The handful of system calls nodemesh makes through the FFM API, all through libc's {@code syscall(2)} and one downcall
 * handle, with errno captured per call.
 */
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

    // Every system call goes through libc's syscall(2) and this one downcall handle: linking a handle spins classes
    // at run time that no AOT cache holds (a DowncallStub and its LambdaForms), about 9 ms each in a cold JVM after the
    // first, and their code is interpreted and compiled at every start. With a handle per call the proxy's restart
    // linked some twenty (about 180 ms of a start, single-threaded); one for all links once (about 45 ms, most of it
    // the first link's own set-up). A holder class, so that it is linked on its first call; a static final, so that
    // the JIT folds it on the hot paths. Arguments are numbers: addresses as MemorySegment.address().
    private static final class SYSCALL {
        static final MethodHandle H = downcall("syscall", FunctionDescriptor.of(ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG), Linker.Option.firstVariadicArg(1));
    }

    /** System call numbers, x86_64 (as {@link Bpf}'s). */
    static final int SYS_IOCTL = 16;
    static final int SYS_CLOSE = 3;
    static final int SYS_SOCKET = 41;
    static final int SYS_CONNECT = 42;
    static final int SYS_SENDTO = 44;
    static final int SYS_RECVFROM = 45;
    static final int SYS_SENDMSG = 46;
    static final int SYS_RECVMSG = 47;
    static final int SYS_SHUTDOWN = 48;
    static final int SYS_BIND = 49;
    static final int SYS_LISTEN = 50;
    static final int SYS_SETSOCKOPT = 54;
    static final int SYS_GETSOCKOPT = 55;
    static final int SYS_FCNTL = 72;
    static final int SYS_SETPRIORITY = 141;
    static final int SYS_OPENAT = 257;
    static final int SYS_SPLICE = 275;
    static final int SYS_ACCEPT4 = 288;
    static final int SYS_PIPE2 = 293;
    static final int SYS_SETNS = 308;
    static final int SYS_RENAMEAT2 = 316;
    static final int SYS_BPF = 321;
    static final int AT_FDCWD = -100;

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

    /**
     * {@code syscall(nr, a, b, c, d, e, f)}: the kernel's result, or -1 with the errno in {@code state}. Unused
     * arguments are 0; an address is {@code segment.address()}, of a segment the caller keeps alive through the call.
     */
    static long syscall(MemorySegment state, int nr, long a, long b, long c, long d, long e, long f) {
        try {
            return (long) SYSCALL.H.invokeExact(state, (long) nr, a, b, c, d, e, f);
        } catch (Throwable t) {
            throw new IllegalStateException("syscall(" + nr + ") downcall failed", t);
        }
    }

    static long syscall(MemorySegment state, int nr, long a, long b, long c) {
        return syscall(state, nr, a, b, c, 0, 0, 0);
    }

    static int open(String path, int flags) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) syscall(state, SYS_OPENAT, AT_FDCWD, arena.allocateFrom(path).address(), flags);
            if (fd < 0) {
                throw failure("open " + path, state);
            }
            return fd;
        }
    }

    /** {@code close(2)}, its result not looked at; allocates nothing (the call state is the thread's scratch). */
    static void close(int fd) {
        syscall(SCRATCH.get().state, SYS_CLOSE, fd, 0, 0);
    }

    /** {@code pipe2(2)} with {@code flags}: the read end and the write end. */
    static int[] pipe2(int flags) throws IOException {
        Scratch scratch = SCRATCH.get();
        int rc = (int) syscall(scratch.state, SYS_PIPE2, scratch.buffer.address(), flags, 0);
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
        long rc = syscall(state, SYS_SPLICE, in, 0, out, 0, len, flags);
        return rc >= 0 ? rc : -errno(state);
    }

    /** {@code setns(2)}; allocates nothing (the call state is the thread's scratch: two calls per upstream socket). */
    static void setns(int fd, int nstype, String what) throws IOException {
        MemorySegment state = SCRATCH.get().state;
        int rc = (int) syscall(state, SYS_SETNS, fd, nstype, 0);
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
        int rc = (int) syscall(scratch.state, SYS_GETSOCKOPT, fd, level, option, out.address(),
                scratch.length.address(), 0);
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
        int rc = (int) syscall(scratch.state, SYS_SETSOCKOPT, fd, level, option, scratch.value.address(),
                ValueLayout.JAVA_INT.byteSize(), 0);
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
            int rc = (int) syscall(state, SYS_SETPRIORITY, PRIO_PROCESS, tid, nice);
            if (rc != 0) {
                throw failure("setpriority(PRIO_PROCESS, " + tid + ", " + nice + ")", state);
            }
        }
    }

    /** setsockopt with a struct value ({@code struct timeval}, ...); {@code what} names the option in the error. */
    static void setsockopt(int fd, int level, int option, MemorySegment value, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) syscall(state, SYS_SETSOCKOPT, fd, level, option, value.address(), value.byteSize(), 0);
            if (rc != 0) {
                throw failure("setsockopt(fd " + fd + ", " + what + ")", state);
            }
        }
    }

    static int socket(int domain, int type, String what) throws IOException {
        return socket(domain, type, 0, what);
    }

    static int socket(int domain, int type, int protocol, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) syscall(state, SYS_SOCKET, domain, type, protocol);
            if (fd < 0) {
                throw failure("socket for " + what, state);
            }
            return fd;
        }
    }

    static void bind(int fd, MemorySegment address, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) syscall(state, SYS_BIND, fd, address.address(), address.byteSize());
            if (rc != 0) {
                throw failure("bind to " + what, state);
            }
        }
    }

    static void connect(int fd, MemorySegment address, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) syscall(state, SYS_CONNECT, fd, address.address(), address.byteSize());
            if (rc != 0) {
                throw failure("connect to " + what, state);
            }
        }
    }

    static void listen(int fd, int backlog, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) syscall(state, SYS_LISTEN, fd, backlog, 0);
            if (rc != 0) {
                throw failure("listen on " + what, state);
            }
        }
    }

    /** {@code accept4(fd, NULL, NULL, flags)}, again when a signal interrupts it; blocks the calling thread. */
    static int accept4(int fd, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                int accepted = (int) syscall(state, SYS_ACCEPT4, fd, 0, 0, flags, 0, 0);
                if (accepted >= 0) {
                    return accepted;
                }
                if (errno(state) != EINTR) {
                    throw failure("accept on " + what, state);
                }
            }
        }
    }

    /** {@code shutdown(fd, how)}; a failure (the peer already gone: ENOTCONN) is not reported, as for close. */
    static void shutdown(int fd, int how) {
        syscall(SCRATCH.get().state, SYS_SHUTDOWN, fd, how, 0);
    }

    /** {@code sendmsg}, again when a signal interrupts it; returns the bytes sent. */
    static long sendmsg(int fd, MemorySegment msghdr, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long sent = syscall(state, SYS_SENDMSG, fd, msghdr.address(), flags);
                if (sent >= 0) {
                    return sent;
                }
                if (errno(state) != EINTR) {
                    throw failure("sendmsg on " + what, state);
                }
            }
        }
    }

    /** {@code send(fd, buf, len, flags)}, again when a signal interrupts it; returns the bytes sent. */
    static long send(int fd, MemorySegment buffer, long length, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long sent = syscall(state, SYS_SENDTO, fd, buffer.address(), length, flags, 0, 0);
                if (sent >= 0) {
                    return sent;
                }
                if (errno(state) != EINTR) {
                    throw failure("send on " + what, state);
                }
            }
        }
    }

    /** {@code recv(fd, buf, len, flags)}, again when a signal interrupts it; returns the bytes received. */
    static long recv(int fd, MemorySegment buffer, long length, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long received = syscall(state, SYS_RECVFROM, fd, buffer.address(), length, flags, 0, 0);
                if (received >= 0) {
                    return received;
                }
                if (errno(state) != EINTR) {
                    throw failure("recv on " + what, state);
                }
            }
        }
    }

    /** {@code recvmsg}, again when a signal interrupts it; returns the bytes received (0: the peer closed). */
    static long recvmsg(int fd, MemorySegment msghdr, int flags, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                long received = syscall(state, SYS_RECVMSG, fd, msghdr.address(), flags);
                if (received >= 0) {
                    return received;
                }
                if (errno(state) != EINTR) {
                    throw failure("recvmsg on " + what, state);
                }
            }
        }
    }

    /** An argument-less {@code ioctl(fd, request)}; returns its non-negative result. */
    static int ioctl(int fd, long request, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) syscall(state, SYS_IOCTL, fd, request, 0);
            if (rc < 0) {
                throw failure(what, state);
            }
            return rc;
        }
    }

    /** {@code fcntl(fd, cmd, arg)} with an {@code int} argument; returns its non-negative result. */
    static int fcntl(int fd, int cmd, int arg, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) syscall(state, SYS_FCNTL, fd, cmd, arg);
            if (rc < 0) {
                throw failure(what, state);
            }
            return rc;
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
