package io.nodemesh.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelPromise;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.route.RouteDenied;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The connector on {@link EmbeddedChannel}s, without root or sockets: the upstream is a test {@link Upstream} that
 * hands back an embedded channel (or a failure) when the test says so.
 */
class UpstreamConnectorTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private static final InetSocketAddress DESTINATION = new InetSocketAddress(InetAddress.ofLiteral("10.1.0.3"), 8080);

    private final Recorder recorder = new Recorder();
    private final EmbeddedChannel downstream = new EmbeddedChannel();
    private final ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, downstream, recorder);
    private EmbeddedChannel upstream;
    private ChannelPromise pending;

    @AfterEach
    void closeBoth() {
        downstream.finishAndReleaseAll();
        if (upstream != null) {
            upstream.finishAndReleaseAll();
        }
    }

    /** Connects only when {@link #connect()} is called, as a real connect completes later. */
    private final Upstream deferred = (c, loop, handler) -> {
        upstream = new EmbeddedChannel(handler);
        upstream.config().setAutoRead(false);
        c.upstreamConnecting(upstream);
        pending = upstream.newPromise();
        return pending;
    };

    private void start(Upstream how) {
        downstream.config().setAutoRead(false);
        connection.opened(DESTINATION); // what OriginalDestinationReader does before the connector runs
        downstream.pipeline().addLast("upstream", new UpstreamConnector(connection, how));
        downstream.pipeline().fireChannelActive();
    }

    private void connect() {
        pending.setSuccess();
        upstream.runPendingTasks();
        downstream.runPendingTasks();
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private static String readText(EmbeddedChannel ch) {
        StringBuilder sb = new StringBuilder();
        ByteBuf b;
        while ((b = ch.readOutbound()) != null) {
            sb.append(b.toString(StandardCharsets.UTF_8));
            b.release();
        }
        return sb.toString();
    }

    @Test
    void bytesThatArriveBeforeTheUpstreamConnectsAreRelayedInOrderOnceItDoes() {
        start(deferred);
        downstream.writeInbound(text("GET / HTTP/1.1\r\n"));
        downstream.writeInbound(text("Host: x\r\n\r\n"));
        assertThat(upstream.outboundMessages()).as("nothing sent before the connect").isEmpty();

        connect();

        assertThat(readText(upstream)).isEqualTo("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assertThat(connection.bytesFromSource()).isEqualTo(27);
        assertThat(downstream.pipeline().get("relay")).as("the connector handed over to the relay").isInstanceOf(Relay.class);
        assertThat(downstream.config().isAutoRead()).isTrue();
        assertThat(upstream.config().isAutoRead()).isTrue();

        upstream.writeInbound(text("HTTP/1.1 200 OK\r\n\r\n"));
        assertThat(readText(downstream)).isEqualTo("HTTP/1.1 200 OK\r\n\r\n");
        assertThat(connection.bytesToSource()).isEqualTo(19);
    }

    @Test
    void aFinThatArrivesBeforeTheConnectIsPassedOnAfterTheBytes() {
        start(deferred);
        downstream.writeInbound(text("last words"));
        downstream.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);

        connect();

        assertThat(readText(upstream)).isEqualTo("last words");
        // An embedded channel cannot half-close: passing the FIN on closes it once what came before is flushed.
        assertThat(upstream.isOpen()).isFalse();
    }

    @Test
    void aRefusedConnectResetsTheClientAndIsReportedRefused() {
        start(deferred);
        downstream.writeInbound(text("held, then released"));

        pending.setFailure(new ConnectException("Connection refused"));
        downstream.runPendingTasks();

        assertThat(downstream.isOpen()).isFalse();
        assertThat(recorder.outcomes).containsExactly(Outcome.REFUSED);
    }

    @Test
    void aConnectTimeoutIsReportedAsSuch() {
        start(deferred);

        pending.setFailure(new ConnectTimeoutException("connection timed out: /10.1.0.3:8080"));
        downstream.runPendingTasks();

        assertThat(recorder.outcomes).containsExactly(Outcome.CONNECT_TIMEOUT);
    }

    @Test
    void aDeniedRouteFailsWithoutAnUpstreamSocketAndIsReportedDenied() {
        start((c, loop, handler) -> c.downstream().newFailedFuture(new RouteDenied("port 15006 of meshed pod pay/server")));
        downstream.runPendingTasks();

        assertThat(downstream.isOpen()).isFalse();
        assertThat(recorder.outcomes).containsExactly(Outcome.DENIED);
    }

    @Test
    void aClientThatLeavesWhileConnectingClosesTheUpstreamToo() {
        start(deferred);
        downstream.close();

        connect();

        assertThat(upstream.isOpen()).isFalse();
        assertThat(recorder.outcomes).hasSize(1);
    }

    @Test
    void theUpstreamIsAskedOnceWithTheDownstreamsLoop() {
        List<Object> loops = new ArrayList<>();
        start((c, loop, handler) -> {
            loops.add(loop);
            return deferred.connect(c, loop, handler);
        });

        assertThat(loops).containsExactly(downstream.eventLoop());
    }

    /** What a pod's counters and telemetry would hear. */
    private static final class Recorder implements ConnectionListener {
        final List<Outcome> outcomes = new ArrayList<>();

        @Override
        public void opened(Connection c) {
        }

        @Override
        public void closed(Connection c, Outcome outcome, long durationNanos) {
            outcomes.add(outcome);
        }

        @Override
        public void notRedirected(Connection c, String reason) {
        }
    }
}
