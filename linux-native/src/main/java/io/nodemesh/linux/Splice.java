package io.nodemesh.linux;

import java.io.IOException;

/**
 * Bytes moved between a socket and a pipe inside the kernel ({@code splice(2)}), never copied to user space: what a
 * relay uses for a bulk transfer, socket to pipe, then pipe to the other socket. Both calls are non-blocking and
 * allocate nothing.
 */
public final class Splice {

    /** {@code -EAGAIN}: the source has nothing now, or the destination takes nothing now. */
    public static final int EAGAIN_NEGATIVE = -Libc.EAGAIN;

    private Splice() {
    }

    /**
     * A new pipe, non-blocking and close-on-exec: its read end, then its write end. Close both with
     * {@link Descriptors#close}.
     *
     * @throws NativeException with the errno (EMFILE, ENFILE: out of descriptors)
     */
    public static int[] pipe() throws IOException {
        return Libc.pipe2(Libc.O_NONBLOCK | Libc.O_CLOEXEC);
    }

    /**
     * Sets the capacity of the pipe whose descriptor is {@code fd} ({@code F_SETPIPE_SZ}); the kernel rounds it up to a
     * power of two of pages and refuses more than {@code /proc/sys/fs/pipe-max-size} to an unprivileged process.
     * Returns the capacity set.
     *
     * @throws NativeException with the errno
     */
    public static int resize(int fd, int bytes) throws IOException {
        return Libc.fcntl(fd, Libc.F_SETPIPE_SZ, bytes, "fcntl F_SETPIPE_SZ " + bytes + " on fd " + fd);
    }

    /**
     * Moves up to {@code len} bytes from {@code in} to {@code out}, one of them a pipe, without blocking: the bytes
     * moved, 0 at the end of {@code in}'s input (a socket's FIN), or the negated errno ({@link #EAGAIN_NEGATIVE},
     * {@code -ECONNRESET}, {@code -EPIPE}, ...).
     */
    public static long move(int in, int out, long len) {
        return Libc.splice(in, out, len, Libc.SPLICE_F_MOVE | Libc.SPLICE_F_NONBLOCK);
    }
}
