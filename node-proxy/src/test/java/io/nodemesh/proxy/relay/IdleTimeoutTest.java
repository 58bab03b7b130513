package io.nodemesh.proxy.relay;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@link IdleTimeout} on an embedded channel whose clock the test moves ({@code advanceTimeBy}).
 *
 * <p>IdleTimeout stamps activity with {@code System.nanoTime()}, not with its executor's ticker, so moving the
 * embedded clock fires its check but cannot make the connection idle: the tests that need the timeout to pass also
 * let real time pass, in small steps and with generous bounds, and never assert a duration. Once IdleTimeout reads
 * {@code ctx.executor().ticker().nanoTime()} they pass on virtual time alone.
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
        Connection connection = new Connection(Direction.INBOUND, downstream, listener);
        connection.opened(new InetSocketAddress("10.77.0.3", 8080));
        downstream.pipeline().addLast(new IdleTimeout(connection, TIMEOUT_MILLIS));
    }

    @AfterEach
    void release() {
        downstream.finishAndReleaseAll();
    }

    @Test
    void anIdleConnectionIsClosedWithOutcomeIdleTimeout() throws InterruptedException {
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
    void readsPostponeTheTimeout() throws InterruptedException {
        stayBusyFor(3 * TIMEOUT_MILLIS, () -> downstream.writeInbound(Unpooled.wrappedBuffer(new byte[] {1})));
        downstream.releaseInbound();
        awaitClosed(); // and once the reads stop it does time out
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome)
                .containsExactly(Outcome.IDLE_TIMEOUT);
    }

    @Test
    void flushesPostponeTheTimeout() throws InterruptedException {
        stayBusyFor(3 * TIMEOUT_MILLIS, () -> downstream.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {1})));
        downstream.releaseOutbound();
        awaitClosed();
    }

    @Test
    void aConnectionThatClosedByItselfIsNotReportedAsIdle() {
        downstream.close();
        tick(3 * TIMEOUT_MILLIS);
        assertThat(listener.closed()).extracting(RecordingListener.Closed::outcome).containsExactly(Outcome.OK);
    }

    /** Keeps the connection busy with {@code activity} every 20 ms (real and virtual) for {@code millis}. */
    private void stayBusyFor(long millis, Runnable activity) throws InterruptedException {
        for (long t = 0; t < millis; t += 20) {
            activity.run();
            tick(20);
            assertThat(downstream.isOpen()).as("open after %d ms of activity", t + 20).isTrue();
            Thread.sleep(20);
        }
    }

    /** Moves the clock on by the timeout until the connection closes (at most 10 s of real time). */
    private void awaitClosed() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (downstream.isOpen()) {
            assertThat(System.nanoTime()).as("closed within 10 s").isLessThan(deadline);
            tick(TIMEOUT_MILLIS);
            Thread.sleep(20);
        }
    }

    private void tick(long millis) {
        downstream.advanceTimeBy(millis, TimeUnit.MILLISECONDS);
        downstream.runScheduledPendingTasks();
        downstream.runPendingTasks();
    }
}
