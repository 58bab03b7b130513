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
    static final int PRIO_PROCESS = 0;
    static final int ESRCH = 3;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(
            java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));

    private static final MethodHandle OPEN = downcall("open",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = downcall("close",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle SETNS = downcall("setns",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle GETSOCKOPT = downcall("getsockopt",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle SETSOCKOPT = downcall("setsockopt",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                    ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle SETPRIORITY = downcall("setpriority",
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle STRERROR = LINKER.downcallHandle(
            LIBC.find("strerror").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));

    private Libc() {
    }

    private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
        MemorySegment symbol = LIBC.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, Linker.Option.captureCallState("errno"));
    }

    static int open(String path, int flags) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(path), flags);
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

    static void close(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            int ignored = (int) CLOSE.invokeExact(arena.allocate(CALL_STATE), fd);
        } catch (Throwable t) {
            throw new IllegalStateException("close() downcall failed", t);
        }
    }

    static void setns(int fd, int nstype, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) SETNS.invokeExact(state, fd, nstype);
            if (rc != 0) {
                throw failure("setns into " + what, state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("setns() downcall failed", t);
        }
    }

    /** getsockopt into {@code out}; returns the length the kernel wrote. */
    static int getsockopt(int fd, int level, int option, MemorySegment out, Arena arena) throws IOException {
        try {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment len = arena.allocateFrom(ValueLayout.JAVA_INT, (int) out.byteSize());
            int rc = (int) GETSOCKOPT.invokeExact(state, fd, level, option, out, len);
            if (rc != 0) {
                throw failure("getsockopt(fd " + fd + ", level " + level + ", option " + option + ")", state);
            }
            return len.get(ValueLayout.JAVA_INT, 0);
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("getsockopt() downcall failed", t);
        }
    }

    /** setsockopt with an {@code int} value; {@code what} names the option in the error. */
    static void setsockopt(int fd, int level, int option, int value, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment v = arena.allocateFrom(ValueLayout.JAVA_INT, value);
            int rc = (int) SETSOCKOPT.invokeExact(state, fd, level, option, v, (int) ValueLayout.JAVA_INT.byteSize());
            if (rc != 0) {
                throw failure("setsockopt(fd " + fd + ", " + what + ")", state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("setsockopt() downcall failed", t);
        }
    }

    /** {@code setpriority(PRIO_PROCESS, tid, nice)}: on Linux the nice value of one thread (0: the calling one). */
    static void setpriority(int tid, int nice) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int rc = (int) SETPRIORITY.invokeExact(state, PRIO_PROCESS, tid, nice);
            if (rc != 0) {
                throw failure("setpriority(PRIO_PROCESS, " + tid + ", " + nice + ")", state);
            }
        } catch (IOException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("setpriority() downcall failed", t);
        }
    }

    static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static NativeException failure(String what, MemorySegment state) {
        int errno = errno(state);
        return new NativeException(what + ": " + strerror(errno) + " (errno " + errno + ")", errno);
    }
}
