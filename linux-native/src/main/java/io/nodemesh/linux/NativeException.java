package io.nodemesh.linux;

import java.io.IOException;

/** A failed system call, carrying the errno the kernel returned. */
public final class NativeException extends IOException {

    /** ENOENT: no such file or directory. */
    public static final int ENOENT = 2;

    private final int errno;

    NativeException(String message, int errno) {
        super(message);
        this.errno = errno;
    }

    /** The errno of the failed call. */
    public int errno() {
        return errno;
    }
}
