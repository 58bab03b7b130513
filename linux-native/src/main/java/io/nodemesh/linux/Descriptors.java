package io.nodemesh.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Raw file descriptors the JDK has no type for, such as those received over a {@link SeqpacketSocket}: open, close,
 * ask what namespace one is ({@code NS_GET_NSTYPE}) and name one for a message.
 */
public final class Descriptors {

    /** {@code CLONE_NEWNET}: the {@link #namespaceType} of a network namespace. */
    public static final int CLONE_NEWNET = Libc.CLONE_NEWNET;

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
