package io.nodemesh.proxy.relay;

import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.unix.Errors;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.route.RouteDenied;
import io.nodemesh.proxy.tunnel.TunnelRefused;
import java.net.ConnectException;
import java.net.SocketException;

/**
 * Turns a failure into the {@link Outcome} a user sees, from its errno or its exception type, never from message
 * text (which differs between transports, JDK versions and locales).
 */
public final class Outcomes {

    /** Linux's ETIMEDOUT as the native transports carry it (negated). */
    private static final int ETIMEDOUT_NEGATIVE = -110;

    private Outcomes() {
    }

    /**
     * Why connecting upstream failed. Netty's own connect timer raises {@link ConnectTimeoutException}; a
     * {@link ConnectException} otherwise is a refusal (RST on SYN). The kernel's own SYN timeout (ETIMEDOUT, also a
     * {@code ConnectException}) comes after about 127 s with Linux's default {@code tcp_syn_retries}, later than the
     * connect timeout allows, so it does not arrive first; if a node lowers {@code tcp_syn_retries} under the connect
     * timeout, such a timeout counts as refused. A tunnel's answer other than 200 ({@link TunnelRefused}) carries
     * its own outcome. Unreachable hosts and networks ({@code NoRouteToHostException}) and
     * anything else are errors.
     */
    public static Outcome ofConnectFailure(Throwable cause) {
        if (cause instanceof RouteDenied) {
            return Outcome.DENIED;
        }
        if (cause instanceof TunnelRefused refused) {
            return refused.outcome();
        }
        if (cause instanceof ConnectTimeoutException) {
            return Outcome.CONNECT_TIMEOUT;
        }
        if (cause instanceof ConnectException) {
            return Outcome.REFUSED;
        }
        return Outcome.ERROR;
    }

    /**
     * Whether {@code cause}, raised on an established connection, is the peer resetting it. The native transports
     * (epoll, io_uring) carry the errno: ECONNRESET, or EPIPE on a write after the reset. The JDK's NIO carries none
     * and reports a reset as a {@link SocketException} (a write after it, EPIPE, is a plain {@code IOException} there
     * and counts as an error). A tunnel stream's {@code RST_STREAM} arrives as {@link PeerReset}.
     */
    public static boolean isReset(Throwable cause) {
        if (cause instanceof PeerReset) {
            return true;
        }
        if (cause instanceof Errors.NativeIoException nio) {
            int err = nio.expectedErr();
            return err == Errors.ERRNO_ECONNRESET_NEGATIVE || err == Errors.ERRNO_EPIPE_NEGATIVE;
        }
        return cause instanceof SocketException;
    }

    /**
     * Whether {@code cause}, raised on an established connection, says the peer stopped answering: ETIMEDOUT, which
     * the kernel reports when TCP keepalive probes or retransmissions go unanswered. Only the native transports carry
     * the errno; on NIO such a connection ends as a reset or an error.
     */
    public static boolean isPeerLost(Throwable cause) {
        return cause instanceof Errors.NativeIoException nio && nio.expectedErr() == ETIMEDOUT_NEGATIVE;
    }
}
