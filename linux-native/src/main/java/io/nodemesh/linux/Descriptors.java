package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Raw file descriptors the JDK has no type for, such as those received over a {@link SeqpacketSocket}: open, close,
 * duplicate, ask what namespace one is ({@code NS_GET_NSTYPE}) or whether it is a TCP socket or a listening
 * {@code SOCK_SEQPACKET} one, and name one for a message.
 */
public final class Descriptors {

    /** {@code CLONE_NEWNET}: the {@link #namespaceType} of a network namespace. */
    public static final int CLONE_NEWNET = Libc.CLONE_NEWNET;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int SOCK_STREAM = 1;

    private Descriptors() {
    }

    /**
     * Opens {@code path} {@code O_RDONLY|O_CLOEXEC} (e.g. a namespace file, to pass to another process).
     *
     * @throws NativeException naming the path and the errno
     */
    public static int openReadOnly(Path path) throws IOException {
        return Libc.open(path.toString(), Libc.O_RDONLY | Libc.O_CLOEXEC);
    }

    /**
     * Closes {@code fd}. A failure is not reported: Linux releases the number even when close fails, so there is
     * nothing to retry, and retrying could close a descriptor another thread has opened since.
     */
    public static void close(int fd) {
        Libc.close(fd);
    }

    /**
     * A second descriptor for what {@code fd} refers to ({@code F_DUPFD_CLOEXEC}): the same open file, so a socket lives
     * on while either is open.
     *
     * @throws NativeException naming the descriptor and the errno
     */
    public static int duplicate(int fd) throws IOException {
        return Libc.fcntl(fd, Libc.F_DUPFD_CLOEXEC, 0, "fcntl F_DUPFD_CLOEXEC on fd " + fd);
    }

    /**
     * Whether {@code fd} is a TCP socket ({@code AF_INET} or {@code AF_INET6}, {@code SOCK_STREAM}) that listens
     * ({@code SO_ACCEPTCONN}) exactly when {@code listening}: a check on a descriptor received from another process
     * before it is wrapped as a channel. False for anything else, a closed descriptor included.
     */
    public static boolean isTcpSocket(int fd, boolean listening) {
        try (Arena arena = Arena.ofConfined()) {
            int domain = intOption(fd, Libc.SO_DOMAIN, arena);
            return (domain == AF_INET || domain == AF_INET6) && intOption(fd, Libc.SO_TYPE, arena) == SOCK_STREAM
                    && (intOption(fd, Libc.SO_ACCEPTCONN, arena) != 0) == listening;
        } catch (IOException e) {
            return false; // ENOTSOCK, EBADF: not a socket of ours
        }
    }

    /**
     * Whether {@code fd} is a listening {@code AF_UNIX} {@code SOCK_SEQPACKET} socket (a control socket received from
     * another process). False for anything else, a closed descriptor included.
     */
    public static boolean isSeqpacketListener(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            return intOption(fd, Libc.SO_DOMAIN, arena) == Libc.AF_UNIX
                    && intOption(fd, Libc.SO_TYPE, arena) == Libc.SOCK_SEQPACKET
                    && intOption(fd, Libc.SO_ACCEPTCONN, arena) != 0;
        } catch (IOException e) {
            return false;
        }
    }

    private static int intOption(int fd, int option, Arena arena) throws IOException {
        MemorySegment value = arena.allocate(ValueLayout.JAVA_INT);
        Libc.getsockopt(fd, Libc.SOL_SOCKET, option, value);
        return value.get(ValueLayout.JAVA_INT, 0);
    }

    /**
     * The namespace type of {@code fd} ({@link #CLONE_NEWNET}, {@code CLONE_NEWPID}, ...), by {@code ioctl NS_GET_NSTYPE}.
     *
     * @throws NativeException saying "not a namespace" when {@code fd} is not one (the kernel answers ENOTTY for a
     *         plain file, EINVAL for some other special files), with the kernel's errno
     */
    public static int namespaceType(int fd) throws IOException {
        try {
            return Libc.ioctl(fd, Libc.NS_GET_NSTYPE, "ioctl NS_GET_NSTYPE on fd " + fd);
        } catch (NativeException e) {
            throw new NativeException("fd " + fd + " (" + describe(fd) + ") is not a namespace: " + e.getMessage(),
                    e.errno());
        }
    }

    /**
     * What {@code fd} refers to, for messages: the target of {@code /proc/self/fd/N}, e.g. {@code net:[4026531840]},
     * {@code /tmp/x}, {@code socket:[123]}; {@code "fd N (closed)"} when there is no such descriptor.
     */
    public static String describe(int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (IOException e) {
            return "fd " + fd + " (closed)";
        }
    }
}
