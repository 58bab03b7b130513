package io.nodemesh.cni.install;

/** The installer could not do its work; the message names the file and the problem, for an operator to act on. */
public class InstallException extends Exception {

    public InstallException(String message) {
        super(message);
    }

    public InstallException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The CNI config dir holds no config yet (the primary CNI has not written one): with {@code --watch}, wait. */
    public static final class NoConfig extends InstallException {
        public NoConfig(String message) {
            super(message);
        }
    }
}
