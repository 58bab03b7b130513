package io.nodemesh.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.DefaultByteBufHolder;
import io.netty.buffer.Unpooled;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.unix.Errors;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link Relay} between two embedded channels, no sockets and no root: the downstream side (the captured client) and
 * the upstream side (the connection the proxy opened), each with a Relay to the other, as the listeners wire them.
 */
class RelayTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private static final InetSocketAddress DESTINATION = new InetSocketAddress("10.77.0.3", 8080);

    private final RecordingListener listener = new RecordingListener();
    private HalfClosableChannel downstream;
    private HalfClosableChannel upstream;
    private ChannelConnection connection;

    @BeforeEach
    void wire() {
        downstream = new HalfClosableChannel();
        upstream = new HalfClosableChannel();
        connection = new ChannelConnection(Direction.OUTBOUND, downstream, listener);
        connection.opened(DESTINATION);
        connection.upstreamConnecting(upstream);
        connection.upstreamConnected(upstream);
        downstream.pipeline().addLast(new Relay(connection, true, upstream));
        upstream.pipeline().addLast(new Relay(connection, false, downstream));
    }

    @AfterEach
    void release() {
        downstream.finishAndReleaseAll();
        upstream.finishAndReleaseAll();
    }

    @Test
    void bytesPassThroughIntactAndAreCountedEachWay() {
        downstream.writeInbound(text("GET / HTTP/1.1\r\n\r\n"));
        assertThat(sent(upstream)).isEqualTo("GET / HTTP/1.1\r\n\r\n");
        upstream.writeInbound(text("HTTP/1.1 204 No Content\r\n\r\n"));
        upstream.writeInbound(text("and more"));
        assertThat(sent(downstream)).isEqualTo("HTTP/1.1 204 No Content\r\n\r\nand more");

        assertThat(connection.bytesFromSource()).isEqualTo(18);
        assertThat(connection.bytesToSource()).isEqualTo(35);

        downstream.close();
        runTasks();
        assertThat(upstream.isOpen()).as("the peer is closed when one side closes").isFalse();
        assertThat(listener.closed()).containsExactly(new RecordingListener.Closed(Outcome.OK, 18, 35));
    }

    @Test
    void aPeerThatCannotTakeMoreStopsReadingUntilItDrains() {
        StalledSend stalled = new StalledSend();
        upstream.pipeline().addFirst(stalled);
        upstream.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1024, 4096));

        downstream.writeInbound(bytes(100));
        assertThat(downstream.config().isAutoRead()).as("below the high-water mark reading goes on").isTrue();
        downstream.writeInbound(bytes(8192));
        assertThat(upstream.isWritable()).isFalse();
        assertThat(downstream.config().isAutoRead()).as("reading stops while the peer is full").isFalse();

        stalled.drain();
        runTasks();
        assertThat(upstream.isWritable()).isTrue();
        assertThat(downstream.config().isAutoRead()).as("reading resumes once the peer drained").isTrue();
        assertThat(sent(upstream)).hasSize(8292);
        assertThat(connection.bytesFromSource()).isEqualTo(8292);
    }

    @Test
    void backPressureWorksTheOtherWayToo() {
        StalledSend stalled = new StalledSend();
        downstream.pipeline().addFirst(stalled);
        downstream.config().setWriteBufferWaterMark(new WriteBufferWaterMark(1024, 4096));

        upstream.writeInbound(bytes(8192));
        assertThat(upstream.config().isAutoRead()).isFalse();
        stalled.drain();
        runTasks();
        assertThat(upstream.config().isAutoRead()).isTrue();
        assertThat(connection.bytesToSource()).isEqualTo(8192);
    }

    @Test
    void aHalfCloseIsPassedOnAsAFinAfterTheBytesBeforeItAndTheReplyStillFlows() {
        StalledSend stalled = new StalledSend();
        upstream.pipeline().addFirst(stalled);

        downstream.writeInbound(text("request"));
        downstream.shutdownInput();
        downstream.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        runTasks();
        assertThat(upstream.isOutputShutdown()).as("no FIN before the request was sent").isFalse();

        stalled.drain();
        runTasks();
        assertThat(upstream.isOutputShutdown()).as("FIN passed on").isTrue();
        assertThat(upstream.bytesSentBeforeFin()).as("bytes sent before the FIN").isEqualTo(7);
        assertThat(upstream.isOpen()).as("a half-close is not a close").isTrue();
        assertThat(sent(upstream)).isEqualTo("request");

        // The reply direction is still open: the server answers after the client's FIN, then closes its side.
        upstream.writeInbound(text("reply"));
        assertThat(sent(downstream)).isEqualTo("reply");
        upstream.shutdownInput();
        upstream.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        runTasks();
        assertThat(downstream.bytesSentBeforeFin()).isEqualTo(5);
        assertThat(downstream.isOpen()).as("closed once both directions are done").isFalse();
        assertThat(upstream.isOpen()).isFalse();
        assertThat(listener.closed()).containsExactly(new RecordingListener.Closed(Outcome.OK, 7, 5));
    }

    @Test
    void aCloseWaitsForWhatWasWrittenBeforeIt() {
        StalledSend stalled = new StalledSend();
        upstream.pipeline().addFirst(stalled);

        downstream.writeInbound(text("last words"));
        downstream.close();
        runTasks();
        assertThat(upstream.isOpen()).as("not closed while its data is unsent").isTrue();

        stalled.drain();
        runTasks();
        assertThat(sent(upstream)).isEqualTo("last words");
        assertThat(upstream.isOpen()).isFalse();
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome).containsExactly(Outcome.OK);
    }

    @Test
    void aResetEndsTheConnectionWithOutcomeReset() {
        Epoll.ensureAvailability(); // Errors' constants come from the native library
        downstream.writeInbound(text("abc"));
        upstream.writeInbound(text("de"));
        sent(upstream);
        sent(downstream);

        upstream.pipeline().fireExceptionCaught(new Errors.NativeIoException("readAddress",
                Errors.ERRNO_ECONNRESET_NEGATIVE));
        runTasks();

        assertThat(downstream.isOpen()).isFalse();
        assertThat(upstream.isOpen()).isFalse();
        assertThat(listener.closed()).containsExactly(new RecordingListener.Closed(Outcome.RESET, 3, 2));
        assertThat(connection.endedBy()).as("whose reset it was").isEqualTo(Side.UPSTREAM);
    }

    @Test
    void aBrokenPipeIsAResetToo() {
        Epoll.ensureAvailability();
        downstream.pipeline().fireExceptionCaught(new Errors.NativeIoException("writev",
                Errors.ERRNO_EPIPE_NEGATIVE));
        runTasks();

        assertThat(upstream.isOpen()).isFalse();
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome).containsExactly(Outcome.RESET);
        assertThat(connection.endedBy()).isEqualTo(Side.DOWNSTREAM);
    }

    @Test
    void anyOtherFailureEndsTheConnectionWithOutcomeError() {
        downstream.writeInbound(text("abc"));
        sent(upstream);

        downstream.pipeline().fireExceptionCaught(new IOException("No buffer space available"));
        runTasks();

        assertThat(downstream.isOpen()).isFalse();
        assertThat(upstream.isOpen()).isFalse();
        assertThat(listener.closed()).containsExactly(new RecordingListener.Closed(Outcome.ERROR, 3, 0));
        assertThat(connection.endedBy()).isEqualTo(Side.DOWNSTREAM);
    }

    @Test
    void messagesThatAreNotBuffersAreReleasedAndNotForwarded() {
        DefaultByteBufHolder holder = new DefaultByteBufHolder(text("not a ByteBuf"));

        downstream.writeInbound(holder, "a string");

        assertThat(holder.refCnt()).as("released").isZero();
        assertThat(upstream.outboundMessages()).isEmpty();
        assertThat(connection.bytesFromSource()).isZero();
    }

    @Test
    void aForwardedBufferBelongsToThePeerAlone() {
        ByteBuf buf = text("owned once");
        downstream.writeInbound(buf);

        ByteBuf out = upstream.readOutbound();
        assertThat(out).isSameAs(buf); // zero copy
        assertThat(out.refCnt()).as("neither released nor retained on the way").isEqualTo(1);
        out.release();
    }

    private void runTasks() {
        for (int i = 0; i < 3; i++) {
            downstream.runPendingTasks();
            upstream.runPendingTasks();
        }
    }

    private static ByteBuf text(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.UTF_8);
    }

    private static ByteBuf bytes(int n) {
        return Unpooled.buffer(n).writeZero(n);
    }

    /** Everything {@code ch} has sent so far, as text; the buffers are released. */
    private static String sent(HalfClosableChannel ch) {
        StringBuilder text = new StringBuilder();
        for (Object m; (m = ch.readOutbound()) != null; ) {
            ByteBuf b = (ByteBuf) m;
            text.append(b.toString(StandardCharsets.UTF_8));
            b.release();
        }
        return text.toString();
    }
}
