package io.nodemesh.cni;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;

/**
 * The proxy's control socket as the plugin uses it (docs/cni.md): one connection per call, one request datagram
 * (with the pod's network namespace as a descriptor on ADD), one reply datagram. An interface so that the plugin's
 * decisions are tested without a socket; {@link JniControlSocket} is the real one.
 */
interface ProxyClient {

    /**
     * Sends {@code request} to the socket at {@code socket}, with {@code netnsFd} passed by {@code SCM_RIGHTS} when
     * present, and returns the reply's bytes.
     *
     * @throws Unreachable nothing listens there (no socket file, connection refused)
     * @throws TimedOut no reply within {@code timeout}
     * @throws IOException any other failure of the exchange
     */
    byte[] call(Path socket, Duration timeout, byte[] request, OptionalInt netnsFd) throws IOException;

    /** The pod's network namespace, opened {@code O_RDONLY|O_CLOEXEC}, for the ADD's descriptor. */
    interface Namespaces {
        /**
         * Opens {@code path} and checks that it is a network namespace ({@code NS_GET_NSTYPE}).
         *
         * @throws NotANamespace it opened but is something else
         * @throws IOException it cannot be opened
         */
        int openNetwork(Path path) throws IOException;

        void close(int fd);
    }

    /** Nothing listens at the socket's path: the proxy is not running (or not yet). */
    final class Unreachable extends IOException {
        Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /** The proxy did not answer in time. */
    final class TimedOut extends IOException {
        TimedOut(String message) {
            super(message);
        }
    }

    /** A path that opened but is not a network namespace (a plain file, another kind of namespace). */
    final class NotANamespace extends IOException {
        NotANamespace(String message) {
            super(message);
        }
    }
}
