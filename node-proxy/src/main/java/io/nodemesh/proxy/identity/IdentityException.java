package io.nodemesh.proxy.identity;

/**
 * A certificate that could not be issued, or a CA that could not be read or written; the message says what and
 * where (a file, an identity).
 */
public final class IdentityException extends Exception {

    public IdentityException(String message) {
        super(message);
    }

    public IdentityException(String message, Throwable cause) {
        super(message, cause);
    }
}
