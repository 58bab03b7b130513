package io.nodemesh.proxy.capture;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.RecordingListener;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link OriginalDestinationReader} on an embedded channel. The reader asks a concrete {@link Transport} (a final class
 * with no way to hand it an answer), so only the case where the transport cannot tell is reachable without a
 * redirected socket; the redirected, ENOENT and addressed-to-itself cases run for real in CaptureTest.
 */
class OriginalDestinationReaderTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private final RecordingListener listener = new RecordingListener();
    private final EmbeddedChannel accepted = new EmbeddedChannel();

    @AfterEach
    void release() {
        accepted.finishAndReleaseAll();
    }

    @Test
    void aConnectionWhoseSocketTheTransportCannotReachIsClosedAndCountedNotRelayed() {
        Connection connection = new Connection(Direction.OUTBOUND, accepted, listener);
        Transport epoll = Transport.select(TransportKind.EPOLL, notice -> { });
        ActivationSeen relay = new ActivationSeen();
        accepted.pipeline().addLast(new OriginalDestinationReader(connection, epoll), relay);

        accepted.pipeline().fireChannelActive();
        accepted.runPendingTasks();

        assertThat(listener.notRedirected()).singleElement().asString().contains("cannot reach the socket");
        assertThat(listener.opened()).as("never counted as an open connection").isEmpty();
        assertThat(relay.active).as("the relay never starts").isFalse();
        assertThat(accepted.isOpen()).isFalse();
        assertThat(listener.closed()).as("not reported as a finished connection either").isEmpty();
    }

    /** Stands where the relay would: records whether channelActive got past the reader. */
    private static final class ActivationSeen extends ChannelInboundHandlerAdapter {
        boolean active;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            active = true;
        }
    }
}
