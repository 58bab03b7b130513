package io.nodemesh.proxy.telemetry;

import io.nodemesh.linux.Scheduling;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.stats.TunnelStats;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.ReportProtocol;
import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's side of telemetry: {@link #opened} and {@link #closed} copy each connection's opening and end into a bounded
 * lock-free ring of slots ({@link EventRing}: never blocking, dropping and counting when full); one reporter thread maps
 * them to records and streams batches to the node's agent over its Unix socket (or hands them to an agent in this
 * process: {@link ReportTransport}), reconnecting
 * with capped exponential back-off while the agent is away and dropping (and counting) what it
 * cannot send. The data path never notices the agent.
 *
 * <p>A connection that opens and closes before its batch leaves travels as one record: its closing
 * without {@code open_reported}, which the agent counts as opened and closed, exactly what the two
 * records would have told it in the same batch. Under connection churn that halves the records.
 *
 * <p>The node's capture states ({@link #captureStates}) ride along: in the next batch after they changed (a batch of
 * their own when no record is waiting), and again first thing on every new stream, because the agent keeps them only
 * while the stream that brought them lasts.
 *
 * <p>The tunnel's counters ({@link TunnelStats.Totals}, when the proxy has the tunnel) ride along the same way: looked at
 * once per flush interval and sent when they changed (a batch of their own when no record is waiting), and again on
 * every new stream, since the agent holds the pooled-connections gauge only while the stream lasts.
 *
 * <p>"Sent" means handed to the stream; records in flight when a stream breaks are lost
 * without being counted as dropped.
 */
public final class TelemetryReporter implements ConnectionSink, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TelemetryReporter.class);
    private static final long DROP_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** How much higher the reporting threads' nice value is than the proxy's (lower priority). */
    static final int NICE_INCREMENT = 10;

    private final ReporterConfig config;
    private final EventRing ring;
    /**
     * The batch being gathered (reporter thread): the first {@code pendingCount} slots of the ring, held there and mapped
     * only when the batch leaves, so openings can meet their closings.
     */
    private int pendingCount;
    /** Openings of the batch being taken, by connection hash: offset in the batch + 1, 0 free, -1 removed. */
    private final int[] openingsInBatch;
    private final RecordMapper mapper;
    private final ReportTransport transport;
    private final Thread thread;
    private final LongAdder dropped = new LongAdder();
    private final AtomicLong lastDropLog = new AtomicLong(System.nanoTime() - DROP_LOG_INTERVAL_NANOS);
    private final AtomicLong sent = new AtomicLong();
    private final AtomicLong reconnects = new AtomicLong();
    private volatile boolean parked;
    /** The reporter thread is parked with nothing gathered: the next record wakes it, so its flush clock starts then. */
    private volatile boolean idle;
    private volatile boolean running = true;
    /** The latest capture states handed in, or null before the first. */
    private volatile CaptureReport captures;
    /** The tunnel's counters now (null: no tunnel); called on the reporter thread. */
    private final Supplier<TunnelStats.Totals> tunnel;

    // Reporter-thread state.
    private ReportTransport.Stream stream;
    private boolean everConnected;
    private long backoffNanos;
    private long nextAttemptNanos;
    private long droppedReported;
    /** The capture states the current stream has carried (null: none yet, so the latest are due). */
    private CaptureReport capturesSent;
    /** The tunnel's counters the current stream has carried (null: none yet), and when to look at them next. */
    private TunnelStats.Totals tunnelSent;
    private long nextTunnelLookNanos;

    /** The nice value of the thread that built this reporter: the reporting threads run {@link #NICE_INCREMENT} below. */
    private final int proxyNice;

    private TelemetryReporter(ReporterConfig config, WorkloadLookup lookup, Supplier<TunnelStats.Totals> tunnel,
            ReportTransport transport) {
        this.config = config;
        this.tunnel = tunnel;
        this.ring = new EventRing(config.bufferCapacity());
        this.openingsInBatch = new int[Integer.highestOneBit(Math.max(config.batchSize(), 2) * 4 - 1)];
        this.mapper = new RecordMapper(lookup, config.trustDomain());
        this.proxyNice = proxyNice();
        this.transport = transport != null ? transport : new GrpcReportTransport(config.socketPath(), proxyNice);
        this.backoffNanos = config.initialBackoff().toNanos();
        this.thread = new Thread(this::run, "telemetry-reporter");
        this.thread.setDaemon(true);
    }

    /** Starts the reporter thread; the agent need not be up yet. */
    public static TelemetryReporter start(ReporterConfig config, WorkloadLookup lookup) {
        return start(config, lookup, null);
    }

    /**
     * Starts the reporter thread, reporting the tunnel's counters too: {@code tunnel} is asked for them on that thread,
     * about once per flush interval.
     */
    public static TelemetryReporter start(ReporterConfig config, WorkloadLookup lookup,
            Supplier<TunnelStats.Totals> tunnel) {
        return start(config, lookup, tunnel, null);
    }

    /**
     * As {@link #start(ReporterConfig, WorkloadLookup, Supplier)}, the batches going to {@code transport} (null: the
     * agent on {@code config.socketPath()}, over gRPC); the reporter closes it.
     */
    public static TelemetryReporter start(ReporterConfig config, WorkloadLookup lookup,
            Supplier<TunnelStats.Totals> tunnel, ReportTransport transport) {
        TelemetryReporter reporter = new TelemetryReporter(config, lookup, tunnel, transport);
        reporter.thread.start();
        return reporter;
    }

    /** Queues a finished connection; drops and counts it when the buffer is full. Never blocks. */
    @Override
    public void closed(ClosedConnection connection) {
        offer(connection);
    }

    /** Queues a connection that just opened; drops and counts it when the buffer is full. Never blocks. */
    @Override
    public boolean opened(OpenedConnection connection) {
        return offer(connection);
    }

    private boolean offer(ConnectionEvent event) {
        if (event == null || !running) {
            return false;
        }
        if (!ring.offer(event)) {
            dropped.increment();
            logDropsNowAndThen();
            return false;
        }
        // The ring published with a volatile write, so this volatile read sees the reporter parked if it missed it.
        if (parked && (idle || ring.size() >= config.batchSize())) {
            idle = false; // one wake-up per idle period, not one per record
            LockSupport.unpark(thread);
        }
        return true;
    }

    private void logDropsNowAndThen() {
        long last = lastDropLog.get();
        long now = System.nanoTime();
        if (now - last >= DROP_LOG_INTERVAL_NANOS && lastDropLog.compareAndSet(last, now)) {
            LOG.warn("telemetry buffer full ({} records): {} records dropped so far", config.bufferCapacity(),
                    dropped.sum());
        }
    }

    /** The nice value of the thread that builds the reporter (the proxy's), -1 when it cannot be read. */
    private static int proxyNice() {
        try {
            return Scheduling.currentThreadNice();
        } catch (IOException | RuntimeException | LinkageError e) {
            return -1;
        }
    }

    /**
     * Puts the calling (reporting) thread {@link #NICE_INCREMENT} below the proxy's priority ({@code proxyNice}, read
     * on the thread that built the reporter): a thread started by one already lowered (the gRPC client's, started by
     * the reporter thread) inherits the lowered value and is not lowered twice. Both reporting threads share cores
     * with the event loops; at the same priority the scheduler lets them preempt a busy event loop the moment a batch
     * is ready, and under churn every connection in flight then waits a few milliseconds for them (RESULTS.md,
     * telemetry). Where that cannot be done (no /proc, a seccomp filter) reporting goes on at the proxy's priority.
     */
    static void lowerPriority(int proxyNice) {
        try {
            int now = Scheduling.currentThreadNice();
            int target = Math.min(Scheduling.MAX_NICE, (proxyNice < 0 ? now : proxyNice) + NICE_INCREMENT);
            if (now < target) {
                Scheduling.lowerCurrentThread(target - now);
            }
        } catch (IOException | RuntimeException | LinkageError e) {
            LOG.info("telemetry thread {} keeps the proxy's priority: {}", Thread.currentThread().getName(), e.toString());
        }
    }

    /** Sends {@code report} to the agent with the next batch (at once if nothing else is waiting). Never blocks. */
    @Override
    public void captureStates(CaptureReport report) {
        captures = report;
        LockSupport.unpark(thread);
    }

    /** Records handed to the agent's stream. */
    public long sentRecords() {
        return sent.get();
    }

    /** Records dropped: buffer full, or not sendable because the agent was away. */
    public long droppedRecords() {
        return dropped.sum();
    }

    /** Events in the buffer: queued, or gathered into the batch the reporter thread has not sent yet. */
    public int queuedEvents() {
        return ring.size();
    }

    /** Streams opened after the first one, i.e. how often reporting had to resume. */
    public long reconnects() {
        return reconnects.get();
    }

    private void run() {
        lowerPriority(proxyNice);
        long flushDeadline = 0;
        int batchSize = config.batchSize();
        while (running || ring.size() > 0) {
            long first = ring.consumerIndex();
            while (pendingCount < batchSize && ring.peek(first + pendingCount) != null) {
                if (pendingCount == 0) {
                    flushDeadline = System.nanoTime() + config.flushInterval().toNanos();
                }
                pendingCount++;
            }
            long now = System.nanoTime();
            boolean statesDue = capturesDue(now) | tunnelDue(now);
            if (pendingCount >= batchSize || (pendingCount > 0 && (now >= flushDeadline || !running))
                    || (statesDue && running)) {
                send(takeBatch());
                continue;
            }
            if (!running) {
                break; // everything published is sent (a slot still being written at close is not waited for)
            }
            // Nothing gathered: sleep until a record arrives (offer() wakes us), so a record never waits more than
            // the flush interval. Something gathered: sleep until its deadline or until a full batch is queued. The
            // volatile write of parked, then the volatile read of the next slot: a producer publishing it either is
            // seen here or sees parked (offer()).
            idle = pendingCount == 0;
            parked = true;
            long sleep = pendingCount > 0 ? Math.max(flushDeadline - now, 1) : config.flushInterval().toNanos();
            if (captures != null && captures != capturesSent) {
                sleep = Math.min(sleep, Math.max(nextAttemptNanos - now, 1)); // states wait for the next attempt
            }
            if (!ring.published(first + pendingCount)) {
                LockSupport.parkNanos(this, sleep);
            }
            parked = false;
            idle = false;
        }
        if (stream != null) {
            stream.finish(TimeUnit.SECONDS.toNanos(2));
        }
    }

    /**
     * Maps the gathered events into a batch and hands their slots back to the ring. An opening whose closing is in the
     * same batch is left out and the closing sent as if its opening had never been reported: the agent then counts
     * both at once, as it would have from the two records.
     */
    private ReportBatch.Builder takeBatch() {
        long first = ring.consumerIndex();
        Arrays.fill(openingsInBatch, 0);
        int mask = openingsInBatch.length - 1;
        for (int i = 0; i < pendingCount; i++) {
            EventRing.Slot slot = ring.peek(first + i);
            if (slot.skip) {
                continue;
            }
            int at = slot.connectionHash() & mask;
            if (!slot.closing) {
                int free = -1;
                for (int e; (e = openingsInBatch[at]) != 0; at = (at + 1) & mask) {
                    if (e > 0 && ring.peek(first + e - 1).sameConnection(slot)) {
                        free = -2; // the same opening twice: keep the first, as a map's putIfAbsent would
                        break;
                    }
                    if (e < 0 && free == -1) {
                        free = at;
                    }
                }
                if (free != -2) {
                    openingsInBatch[free >= 0 ? free : at] = i + 1;
                }
            } else if (slot.openReported) {
                for (int e; (e = openingsInBatch[at]) != 0; at = (at + 1) & mask) {
                    if (e > 0) {
                        EventRing.Slot opening = ring.peek(first + e - 1);
                        if (opening.sameConnection(slot)) {
                            openingsInBatch[at] = -1;
                            opening.skip = true;
                            slot.openReported = false;
                            break;
                        }
                    }
                }
            }
        }
        ReportBatch.Builder batch = newBatch();
        for (int i = 0; i < pendingCount; i++) {
            EventRing.Slot slot = ring.peek(first + i);
            if (!slot.skip) {
                batch.addConnections(safeMap(slot, batch));
            }
        }
        ring.release(first + pendingCount);
        pendingCount = 0;
        return batch;
    }

    private io.nodemesh.telemetry.v1.ConnectionRecord safeMap(EventRing.Slot slot, ReportBatch.Builder batch) {
        try {
            return mapper.map(slot, batch);
        } catch (RuntimeException e) {
            // A lookup bug must not stop reporting: send what we know without the lookup.
            LOG.warn("workload lookup failed for {}:{} -> {}:{}", RecordMapper.address(slot.sourceFamily,
                    slot.sourceHigh, slot.sourceLow), slot.sourcePort, RecordMapper.address(slot.destinationFamily,
                    slot.destinationHigh, slot.destinationLow), slot.destinationPort, e);
            return new RecordMapper(WorkloadLookup.NONE, config.trustDomain()).map(slot, batch);
        }
    }

    private ReportBatch.Builder newBatch() {
        mapper.startBatch();
        return ReportBatch.newBuilder()
                .setProtocolVersion(ReportProtocol.VERSION)
                .setReporterId(config.reporterId())
                .setNode(config.node());
    }

    /**
     * Whether capture states are waiting for the agent and a stream may be tried now. A stream the agent ended took
     * its states with it: it is let go here (not only when the next record leaves), so they are said again on the next.
     */
    private boolean capturesDue(long now) {
        CaptureReport latest = captures;
        if (latest == null) {
            return false;
        }
        if (stream != null && stream.broken()) {
            endStream();
        }
        return latest != capturesSent && (stream != null || now >= nextAttemptNanos);
    }

    /**
     * Whether the tunnel's counters changed since the stream carried them (or it carried none), looked at once per
     * flush interval, while a stream may be tried.
     */
    private boolean tunnelDue(long now) {
        if (tunnel == null || now < nextTunnelLookNanos) {
            return false;
        }
        if (stream != null && stream.broken()) {
            endStream();
        }
        if (stream == null && now < nextAttemptNanos) {
            return false;
        }
        nextTunnelLookNanos = now + config.flushInterval().toNanos();
        return !tunnel.get().equals(tunnelSent);
    }

    private void endStream() {
        LOG.info("telemetry stream to {} ended: {}", transport, stream.failure());
        stream = null;
        capturesSent = null;
        tunnelSent = null;
        scheduleReconnect();
    }

    private void send(ReportBatch.Builder batch) {
        int records = batch.getConnectionsCount();
        if (stream != null && stream.broken()) {
            endStream();
        }
        if (stream == null && System.nanoTime() >= nextAttemptNanos) {
            stream = transport.open(thread);
            capturesSent = null;
            tunnelSent = null;
            if (everConnected) {
                reconnects.incrementAndGet();
            }
            everConnected = true;
        }
        if (stream == null || !stream.awaitReady(config.stallTimeout().toNanos())) {
            if (stream != null) {
                stream.cancel(stream.broken() ? "agent unreachable" : "agent stalled");
                stream = null;
                capturesSent = null;
                tunnelSent = null;
                scheduleReconnect();
            }
            dropped.add(records);
            return;
        }
        CaptureReport latest = captures;
        boolean withCaptures = latest != null && latest != capturesSent;
        if (withCaptures) {
            batch.setCaptureStates(CaptureMessages.of(latest));
        }
        TunnelStats.Totals tunnelNow = tunnel == null ? null : tunnel.get();
        boolean withTunnel = tunnelNow != null && !tunnelNow.equals(tunnelSent);
        if (withTunnel) {
            batch.setTunnelTotals(TunnelMessages.of(tunnelNow));
        }
        long droppedNow = dropped.sum();
        batch.setDroppedSinceLastBatch(droppedNow - droppedReported);
        stream.send(batch.build());
        droppedReported = droppedNow;
        sent.addAndGet(records);
        if (withCaptures) {
            capturesSent = latest;
        }
        if (withTunnel) {
            tunnelSent = tunnelNow;
        }
        backoffNanos = config.initialBackoff().toNanos();
    }

    private void scheduleReconnect() {
        nextAttemptNanos = System.nanoTime() + backoffNanos;
        backoffNanos = Math.min(backoffNanos * 2, config.maxBackoff().toNanos());
    }

    /** Sends what is queued (up to a couple of seconds), ends the stream and releases the socket. */
    @Override
    public void close() {
        running = false;
        LockSupport.unpark(thread);
        try {
            thread.join(TimeUnit.SECONDS.toMillis(5) + config.stallTimeout().toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        transport.close();
    }
}
