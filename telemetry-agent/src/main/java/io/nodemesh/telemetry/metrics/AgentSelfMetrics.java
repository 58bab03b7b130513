package io.nodemesh.telemetry.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

/** The agent's own health counters ({@code nodemesh_agent_*}), served beside the Istio series. */
public final class AgentSelfMetrics {

    /** Why a batch or stream was turned away. */
    public enum RejectReason {
        /** A field failed validation. */
        INVALID,
        /** The batch speaks a protocol version this agent does not. */
        VERSION,
        /** Too many report streams were already open. */
        TOO_MANY_STREAMS;

        String label() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final CounterDataPoint connectionRecords;
    private final CounterDataPoint requestRecords;
    private final CounterDataPoint batches;
    private final Counter rejected;
    private final CounterDataPoint reporterDropped;
    private final CounterDataPoint peersRejected;
    private final CounterDataPoint accessLogLines;
    private final CounterDataPoint accessLogSuppressed;
    private final AtomicInteger activeStreams = new AtomicInteger();

    /** Registers the self-metrics; {@code seriesInUse} feeds the label-set gauge. */
    public AgentSelfMetrics(PrometheusRegistry registry, IntSupplier seriesInUse) {
        Counter records = Counter.builder().name("nodemesh_agent_records_received")
                .help("Records accepted from reporters.").labelNames("kind").withoutExemplars().register(registry);
        connectionRecords = records.labelValues("connection");
        requestRecords = records.labelValues("request");
        batches = Counter.builder().name("nodemesh_agent_batches_received")
                .help("Batches accepted from reporters.").withoutExemplars().register(registry);
        rejected = Counter.builder().name("nodemesh_agent_batches_rejected")
                .help("Batches or streams refused, by reason.").labelNames("reason").withoutExemplars()
                .register(registry);
        for (RejectReason reason : RejectReason.values()) {
            rejected.initLabelValues(reason.label());
        }
        reporterDropped = Counter.builder().name("nodemesh_agent_reporter_dropped_records")
                .help("Records reporters say they dropped before sending (buffer full, agent away).")
                .withoutExemplars().register(registry);
        peersRejected = Counter.builder().name("nodemesh_agent_peers_rejected")
                .help("Unix-socket connections closed because the peer's uid is not allowed.")
                .withoutExemplars().register(registry);
        Counter accessLog = Counter.builder().name("nodemesh_agent_access_log_lines")
                .help("Access log lines, by whether they were written or suppressed by the rate limit.")
                .labelNames("result").withoutExemplars().register(registry);
        accessLogLines = accessLog.labelValues("written");
        accessLogSuppressed = accessLog.labelValues("suppressed");
        GaugeWithCallback.builder().name("nodemesh_agent_active_streams").help("Report streams open now.")
                .callback(cb -> cb.call(activeStreams.get())).register(registry);
        GaugeWithCallback.builder().name("nodemesh_agent_series").help("Istio label sets in use (limit included).")
                .callback(cb -> cb.call(seriesInUse.getAsInt())).register(registry);
    }

    public void acceptedBatch(int connections, int requests, long droppedByReporter) {
        batches.inc();
        if (connections > 0) connectionRecords.inc(connections);
        if (requests > 0) requestRecords.inc(requests);
        if (droppedByReporter > 0) reporterDropped.inc(droppedByReporter);
    }

    public void rejected(RejectReason reason) {
        rejected.labelValues(reason.label()).inc();
    }

    public void peerRejected() {
        peersRejected.inc();
    }

    public void accessLogLine(boolean written) {
        (written ? accessLogLines : accessLogSuppressed).inc();
    }

    public AtomicInteger activeStreams() {
        return activeStreams;
    }

    public long recordsReceived() {
        return connectionRecords.getLongValue() + requestRecords.getLongValue();
    }

    public long batchesRejected(RejectReason reason) {
        return rejected.labelValues(reason.label()).getLongValue();
    }

    public long peersRejected() {
        return peersRejected.getLongValue();
    }

    public long accessLogSuppressed() {
        return accessLogSuppressed.getLongValue();
    }
}
