package io.nodemesh.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.unix.Errors;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.route.RouteDenied;
import io.nodemesh.proxy.tunnel.TunnelRefused;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Outcomes come from errno and exception types; the messages here are deliberately misleading. */
class OutcomesTest {

    @BeforeAll
    static void loadNettysNativeErrnoTable() {
        Epoll.ensureAvailability(); // Errors' errno constants come from the native library
    }

    @Test
    void connectFailuresByType() {
        assertThat(Outcomes.ofConnectFailure(new ConnectTimeoutException("connection refused"))).isEqualTo(Outcome.CONNECT_TIMEOUT);
        assertThat(Outcomes.ofConnectFailure(new ConnectException("timed out"))).isEqualTo(Outcome.REFUSED);
        assertThat(Outcomes.ofConnectFailure(new NoRouteToHostException("refused"))).isEqualTo(Outcome.ERROR);
        assertThat(Outcomes.ofConnectFailure(new RouteDenied("port 15006 of meshed pod"))).isEqualTo(Outcome.DENIED);
        assertThat(Outcomes.ofConnectFailure(new IOException("Connection refused"))).isEqualTo(Outcome.ERROR);
    }

    @Test
    void resetsByErrnoOnTheNativeTransports() {
        assertThat(Outcomes.isReset(new Errors.NativeIoException("write", Errors.ERRNO_ECONNRESET_NEGATIVE))).isTrue();
        assertThat(Outcomes.isReset(new Errors.NativeIoException("write", Errors.ERRNO_EPIPE_NEGATIVE))).isTrue();
        assertThat(Outcomes.isReset(new Errors.NativeIoException("Connection reset", Errors.ERRNO_EBADF_NEGATIVE))).isFalse();
    }

    @Test
    void aPeerThatStoppedAnsweringIsToldByETIMEDOUT() {
        assertThat(Outcomes.isPeerLost(new Errors.NativeIoException("read", -110))).isTrue();
        assertThat(Outcomes.isReset(new Errors.NativeIoException("read", -110))).isFalse();
        assertThat(Outcomes.isPeerLost(new Errors.NativeIoException("read", Errors.ERRNO_ECONNRESET_NEGATIVE)))
                .isFalse();
        assertThat(Outcomes.isPeerLost(new IOException("Connection timed out"))).as("NIO carries no errno").isFalse();
    }

    @Test
    void resetsByTypeOnNio() {
        assertThat(Outcomes.isReset(new SocketException("whatever the JDK says"))).isTrue();
        assertThat(Outcomes.isReset(new IOException("Connection reset by peer"))).isFalse();
        assertThat(Outcomes.isReset(new IllegalStateException())).isFalse();
    }

    @Test
    void aTunnelsAnswerCarriesItsOutcomeAndAStreamResetIsAReset() {
        assertThat(Outcomes.ofConnectFailure(new TunnelRefused(401))).isEqualTo(Outcome.DENIED);
        assertThat(Outcomes.ofConnectFailure(new TunnelRefused(403))).isEqualTo(Outcome.DENIED);
        assertThat(Outcomes.ofConnectFailure(new TunnelRefused(503))).isEqualTo(Outcome.REFUSED);
        assertThat(Outcomes.ofConnectFailure(new TunnelRefused(400))).isEqualTo(Outcome.ERROR);
        assertThat(Outcomes.ofConnectFailure(new TunnelRefused(0))).isEqualTo(Outcome.ERROR);
        assertThat(Outcomes.isReset(PeerReset.INSTANCE)).isTrue();
    }
}
