package io.nodemesh.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link IdleTimeout} on an embedded channel whose clock the test moves ({@code advanceTimeBy}): IdleTimeout reads its
 * executor's ticker, so these run on virtual time alone, with no sleeping.
 */
class IdleTimeoutTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private static final long TIMEOUT_MILLIS = 300;

    private final RecordingListener listener = new RecordingListener();
    private EmbeddedChannel downstream;

    @BeforeEach
    void wire() {
        downstream = new EmbeddedChannel();
        downstream.freezeTime();
        ChannelConnection connection = new ChannelConnection(Direction.INBOUND, downstream, listener);
        connection.opened(new InetSocketAddress("10.77.0.3", 8080));
        downstream.pipeline().addLast(new IdleTimeout(connection, TIMEOUT_MILLIS));
    }

    @AfterEach
    void release() {
        downstream.finishAndReleaseAll();
    }

    @Test
    void anIdleConnectionIsClosedWithOutcomeIdleTimeout() {
        awaitClosed();
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome)
                .containsExactly(Outcome.IDLE_TIMEOUT);
    }

    @Test
    void nothingHappensBeforeTheTimeout() {
        tick(TIMEOUT_MILLIS - 1);
        assertThat(downstream.isOpen()).isTrue();
        assertThat(listener.closed()).isEmpty();
    }

    @Test
    void readsPostponeTheTimeout() {
        stayBusyFor(3 * TIMEOUT_MILLIS, () -> downstream.writeInbound(Unpooled.wrappedBuffer(new byte[] {1})));
        downstream.releaseInbound();
        awaitClosed(); // and once the reads stop it does time out
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome)
                .containsExactly(Outcome.IDLE_TIMEOUT);
    }

    @Test
    void flushesPostponeTheTimeout() {
        stayBusyFor(3 * TIMEOUT_MILLIS, () -> downstream.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1})));
        downstream.releaseOutbound();
        awaitClosed();
    }

    @Test
    void itClosesWithinAQuarterOfTheTimeoutAfterTheLastByteAndNeverBefore() {
        tick(TIMEOUT_MILLIS / 2 + 7); // some time into the connection, between two looks
        downstream.writeInbound(Unpooled.wrappedBuffer(new byte[] {1}));
        downstream.releaseInbound();
        tick(TIMEOUT_MILLIS - 1);
        assertThat(downstream.isOpen()).as("idle for less than the timeout").isTrue();
        tick(TIMEOUT_MILLIS / IdleTimeout.CHECKS + 1);
        assertThat(downstream.isOpen()).as("idle for a quarter more than the timeout").isFalse();
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome)
                .containsExactly(Outcome.IDLE_TIMEOUT);
    }

    @Test
    void aConnectionThatClosedByItselfIsNotReportedAsIdle() {
        downstream.close();
        tick(3 * TIMEOUT_MILLIS);
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome).containsExactly(Outcome.OK);
    }

    /** Keeps the connection busy with {@code activity} every 20 ms (virtual) for {@code millis}. */
    private void stayBusyFor(long millis, Runnable activity) {
        for (long t = 0; t < millis; t += 20) {
            activity.run();
            tick(20);
            assertThat(downstream.isOpen()).as("open after %d ms of activity", t + 20).isTrue();
        }
    }

    /** Moves the clock on by the timeout (the check may have been rescheduled once) and expects the close. */
    private void awaitClosed() {
        tick(TIMEOUT_MILLIS);
        tick(TIMEOUT_MILLIS);
        assertThat(downstream.isOpen()).as("closed once idle for the timeout").isFalse();
    }

    private void tick(long millis) {
        downstream.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
        downstream.runScheduledPendingTasks();
        downstream.runPendingTasks();
    }
}
