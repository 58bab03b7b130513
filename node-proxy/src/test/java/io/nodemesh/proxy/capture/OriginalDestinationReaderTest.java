package io.nodemesh.proxy.capture;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nodemesh.linux.NativeException;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.RecordingListener;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link OriginalDestinationReader} on an embedded channel: the lookup is the real transport's (which cannot reach an
 * embedded channel's socket) or a test's answer; the same cases run on redirected sockets in CaptureTest.
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
        ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, accepted, listener);
        Transport epoll = Transport.select(TransportKind.EPOLL, notice -> { });
        ActivationSeen relay = new ActivationSeen();
        accepted.pipeline().addLast(new OriginalDestinationReader(connection, epoll::originalDestination), relay);

        accepted.pipeline().fireChannelActive();
        accepted.runPendingTasks();

        assertThat(listener.notRedirected()).singleElement().asString().contains("cannot reach the socket");
        assertThat(listener.opened()).as("never counted as an open connection").isEmpty();
        assertThat(relay.active).as("the relay never starts").isFalse();
        assertThat(accepted.isOpen()).isFalse();
        assertThat(listener.closed()).as("not reported as a finished connection either").isEmpty();
    }

    private static final InetSocketAddress ORIGINAL = new InetSocketAddress(InetAddress.ofLiteral("10.77.0.3"), 8080);

    @Test
    void aRedirectedConnectionOpensWithItsOriginalDestinationAndTheReaderStepsAside() {
        ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, accepted, listener);
        ActivationSeen next = new ActivationSeen();
        accepted.pipeline().addLast(new OriginalDestinationReader(connection, ch -> ORIGINAL), next);

        accepted.pipeline().fireChannelActive();

        assertThat(connection.destination()).isEqualTo(ORIGINAL);
        assertThat(listener.opened()).containsExactly(connection);
        assertThat(next.active).as("the next handler sees the connection become active").isTrue();
        assertThat(accepted.pipeline().get(OriginalDestinationReader.class)).as("removed after one use").isNull();
        assertThat(accepted.isOpen()).isTrue();
    }

    @Test
    void noConntrackTranslationMeansNotRedirected() {
        ChannelConnection connection = new ChannelConnection(Direction.INBOUND, accepted, listener);
        ActivationSeen next = new ActivationSeen();
        accepted.pipeline().addLast(new OriginalDestinationReader(connection, ch -> {
            throw new NativeException("getsockopt(SO_ORIGINAL_DST)", NativeException.ENOENT);
        }), next);

        accepted.pipeline().fireChannelActive();

        assertThat(listener.notRedirected()).containsExactly("not redirected (no original destination)");
        assertThat(listener.opened()).isEmpty();
        assertThat(next.active).isFalse();
        assertThat(accepted.isOpen()).isFalse();
    }

    @Test
    void aConnectionAddressedToTheCapturePortItselfIsNotRelayedToItself() {
        InetSocketAddress capturePort = new InetSocketAddress(InetAddress.ofLiteral("10.77.0.2"), 15001);
        EmbeddedChannel dialledDirectly = new EmbeddedChannel() {
            @Override
            protected SocketAddress localAddress0() {
                return capturePort;
            }
        };
        try {
            ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, dialledDirectly, listener);
            ActivationSeen next = new ActivationSeen();
            // conntrack answers for an untranslated connection too: with the address it was sent to.
            dialledDirectly.pipeline().addLast(new OriginalDestinationReader(connection,
                    ch -> new InetSocketAddress(InetAddress.ofLiteral("10.77.0.2"), 15001)), next);

            dialledDirectly.pipeline().fireChannelActive();

            assertThat(listener.notRedirected()).containsExactly("not redirected (addressed to the capture port itself)");
            assertThat(listener.opened()).isEmpty();
            assertThat(next.active).isFalse();
            assertThat(dialledDirectly.isOpen()).isFalse();
        } finally {
            dialledDirectly.finishAndReleaseAll();
        }
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
