package io.nodemesh.linux;

import java.io.IOException;

/** A failed system call, carrying the errno the kernel returned. */
public final class NativeException extends IOException {

    /** ENOENT: no such file or directory. */
    public static final int ENOENT = 2;

    /** EAGAIN: a socket's receive or send timeout ran out before anything came or went. */
    public static final int EAGAIN = Libc.EAGAIN;

    private final int errno;

    /** A failure of a call that returned {@code errno}; {@code message} names the call and what it was for. */
    public NativeException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    /** The errno of the failed call. */
    public int errno() {
        return errno;
    }
}
