package io.nodemesh.bench.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.ConnectionListener;
import io.nodemesh.proxy.relay.IdleTimeout;
import io.nodemesh.proxy.relay.Relay;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The proxy's per-read path, one forwarded read per operation, through the handlers a captured
 * connection really has (downstream: {@link IdleTimeout} → {@link Relay};
 * upstream: {@link Relay}), on {@link EmbeddedChannel}s so that the socket I/O stays out and what
 * remains is what the handlers cost. Run with {@code -prof gc}: {@code gc.alloc.rate.norm} is the
 * heap allocated per forwarded read (the target is zero); {@link #harnessOnly} is the same work
 * without the handlers, the floor to compare against.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
// Netty 4.2 recycles pooled objects (buffer duplicates, outbound-buffer entries) only on FastThreadLocalThreads,
// the event loops: JMH's workers are made such threads, or the figure would count objects the proxy never allocates.
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
        "-XX:+UseCompactObjectHeaders", "-Djmh.executor=CUSTOM",
        "-Djmh.executor.class=io.nodemesh.bench.relay.FastThreadLocalExecutor"})
public class RelayReadBenchmark {

    /** Bytes per read: a small request and a full 16 KiB read buffer. */
    @Param({"512", "16384"})
    public int readBytes;

    /**
     * {@code true}: the production pipeline. {@code false}: the same without the downstream's
     * {@link IdleTimeout}, to tell what it costs. (Netty's {@code IdleStateHandler}, used before,
     * replaced each write's void promise by a real one to listen for completion: 88 B per read
     * upstream to pod.)
     */
    @Param({"true", "false"})
    public boolean idleHandler;

    private EmbeddedChannel downstream;
    private EmbeddedChannel upstream;
    private ByteBuf payload;

    @Setup
    public void setUp() {
        upstream = new EmbeddedChannel();
        downstream = new EmbeddedChannel();
        ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, downstream, new Uncounted());
        // The pipelines OutboundInitializer and UpstreamConnector build once the upstream is connected.
        if (idleHandler) {
            downstream.pipeline().addLast("idle", new IdleTimeout(connection, 3_600_000));
        }
        downstream.pipeline().addLast("relay", new Relay(connection, true, upstream));
        upstream.pipeline().addLast("relay", new Relay(connection, false, downstream));
        payload = PooledByteBufAllocator.DEFAULT.directBuffer(readBytes).writeZero(readBytes);
    }

    @TearDown
    public void tearDown() {
        downstream.finishAndReleaseAll();
        upstream.finishAndReleaseAll();
        payload.release();
    }

    /** A read from the pod (client) forwarded to the upstream. */
    @Benchmark
    public Object fromSource() {
        return forward(downstream, upstream);
    }

    /** A read from the upstream forwarded back to the pod. */
    @Benchmark
    public Object toSource() {
        return forward(upstream, downstream);
    }

    /** The benchmark's own work (a pooled duplicate in, taken out, released) with no handler in between. */
    @Benchmark
    public Object harnessOnly() {
        ByteBuf read = payload.retainedDuplicate();
        read.release();
        return read;
    }

    private Object forward(EmbeddedChannel from, EmbeddedChannel to) {
        // What the transport hands the pipeline on a read: a pooled buffer, then read-complete.
        from.pipeline().fireChannelRead(payload.retainedDuplicate());
        from.pipeline().fireChannelReadComplete();
        ByteBuf written = to.readOutbound();
        written.release();
        return written;
    }

    /** Counts nothing: the benchmark is about the bytes, not the bookkeeping of open and closed connections. */
    private static final class Uncounted implements ConnectionListener {
        @Override
        public void opened(Connection connection) {
        }

        @Override
        public void closed(Connection connection, Outcome outcome, long durationNanos) {
        }

        @Override
        public void notRedirected(Connection connection, String reason) {
        }
    }
}
