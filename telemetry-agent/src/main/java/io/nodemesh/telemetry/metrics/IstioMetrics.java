package io.nodemesh.telemetry.metrics;

import io.nodemesh.telemetry.report.ResponseFlags;
import io.nodemesh.telemetry.report.Workloads;
import io.nodemesh.telemetry.v1.ConnectionPhase;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.RequestRecord;
import io.nodemesh.telemetry.v1.SecurityPolicy;
import io.nodemesh.telemetry.v1.Workload;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Aggregates report records into Istio's standard metrics (same names and labels, so existing
 * dashboards work) with a hard bound on the number of label sets.
 *
 * <p>Label semantics follow Istio: {@code reporter="source"} for records captured outbound,
 * {@code "destination"} for inbound; unknown workloads are {@code "unknown"}; TCP series carry
 * {@code request_protocol="tcp"}. Because the proxy reports a connection once, when it closes,
 * {@code istio_tcp_connections_opened_total} is counted at close time too.
 *
 * <p>Cardinality: at most {@code maxSeries} label sets exist, the last one of them reserved for
 * the overflow set whose every label value is {@code "overflow"}; records of a label set that no
 * longer fits are folded into it and counted by {@code nodemesh_agent_series_overflow_total}.
 * Thread-safe; called concurrently by report streams.
 */
public final class IstioMetrics {

    private static final String UNKNOWN = Workloads.UNKNOWN;
    private static final int MAX_INTERNED = 65_536;
    /** Istio's default buckets for istio_request_duration_milliseconds. */
    private static final double[] DURATION_BUCKETS_MS = {0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
        10000, 30000, 60000, 300000, 600000, 1800000, 3600000};

    private final int maxSeries;
    private final Counter opened;
    private final Counter closed;
    private final Counter sent;
    private final Counter received;
    private final Counter requests;
    private final Histogram requestDuration;
    private final Counter overflowFolded;
    private final ConcurrentHashMap<SeriesKey, Series> series = new ConcurrentHashMap<>();
    private final AtomicInteger admitted = new AtomicInteger();
    private final ConcurrentHashMap<Workload, WorkloadLabels> interned = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, String> internedStrings = new ConcurrentHashMap<>();

    /** Registers the Istio families and the overflow counter in {@code registry}. */
    public IstioMetrics(PrometheusRegistry registry, int maxSeries) {
        if (maxSeries < 2) {
            throw new IllegalArgumentException("maxSeries must be at least 2 (one is the overflow set), got " + maxSeries);
        }
        this.maxSeries = maxSeries;
        opened = counter(registry, "istio_tcp_connections_opened", "Connections opened.",
                SeriesKey.TCP_LABELS);
        closed = counter(registry, "istio_tcp_connections_closed", "Connections closed.", SeriesKey.TCP_LABELS);
        sent = counter(registry, "istio_tcp_sent_bytes", "Bytes of the response: sent back to the source (Istio semantics).",
                SeriesKey.TCP_LABELS);
        received = counter(registry, "istio_tcp_received_bytes", "Bytes of the request: received from the source and forwarded (Istio semantics).",
                SeriesKey.TCP_LABELS);
        requests = counter(registry, "istio_requests", "Requests.", SeriesKey.REQUEST_LABELS);
        requestDuration = Histogram.builder()
                .name("istio_request_duration_milliseconds")
                .help("Request duration in milliseconds.")
                .labelNames(SeriesKey.REQUEST_LABELS)
                .classicOnly()
                .classicUpperBounds(DURATION_BUCKETS_MS)
                .withoutExemplars()
                .register(registry);
        overflowFolded = Counter.builder()
                .name("nodemesh_agent_series_overflow")
                .help("Records folded into the overflow label set because the series limit was reached.")
                .withoutExemplars()
                .register(registry);
    }

    private static Counter counter(PrometheusRegistry registry, String name, String help, String[] labels) {
        return Counter.builder().name(name).help(help).labelNames(labels).withoutExemplars().register(registry);
    }

    /** Adds every record of a batch that passed validation. */
    public void record(ReportBatch batch) {
        // Resolve the batch's workload table once; records then share the same label strings,
        // whose hashes are cached, so series look-ups stay cheap.
        WorkloadLabels[] table = new WorkloadLabels[batch.getWorkloadsCount()];
        for (int i = 0; i < table.length; i++) {
            table[i] = labels(batch.getWorkloads(i));
        }
        String[] services = new String[batch.getServicesCount()];
        for (int i = 0; i < services.length; i++) {
            services[i] = intern(Workloads.orUnknown(batch.getServices(i)));
        }
        BatchTotals totals = new BatchTotals(batch.getConnectionsCount());
        // Byte counts are validated to at most 2^50 each: 8192 of them still fit a long.
        boolean summable = batch.getConnectionsCount() <= 8192;
        for (ConnectionRecord r : batch.getConnectionsList()) {
            long key = summable ? BatchTotals.key(r) : -1;
            if (key >= 0) {
                totals.add(key, r);
            } else {
                Series s = seriesFor(keyOf(r, table, services), 1);
                BatchTotals.Sums one = new BatchTotals.Sums(r);
                one.add(r);
                add(s.tcp(), one);
            }
        }
        totals.forEach(sums -> add(seriesFor(keyOf(sums.first, table, services), sums.records).tcp(), sums));
        for (RequestRecord r : batch.getRequestsList()) {
            record(r);
        }
    }

    /** The label set of a connection record, its workloads and service resolved through the batch's tables. */
    private SeriesKey keyOf(ConnectionRecord r, WorkloadLabels[] table, String[] services) {
        String service = r.getDestinationServiceRef() == 0
                ? Workloads.orUnknown(r.getDestinationService()) : services[r.getDestinationServiceRef() - 1];
        WorkloadLabels source = r.getSourceRef() == 0 ? labels(r.getSource()) : table[r.getSourceRef() - 1];
        WorkloadLabels destination = r.getDestinationRef() == 0
                ? labels(r.getDestination()) : table[r.getDestinationRef() - 1];
        boolean opening = r.getPhase() == ConnectionPhase.CONNECTION_PHASE_OPENED;
        return new SeriesKey(reporter(r.getDirection()),
                source.name(), source.namespace(), source.principal(),
                destination.name(), destination.namespace(), destination.principal(),
                service, "tcp", "",
                // At open nothing has gone wrong yet, as with Envoy's and ztunnel's opened counter.
                opening ? ResponseFlags.NONE
                        : r.getResponseFlags().isEmpty() ? ResponseFlags.of(r.getOutcome(), r.getEndedBy())
                        : r.getResponseFlags(),
                securityPolicy(r.getSecurityPolicy()));
    }

    private static void add(TcpPoints points, BatchTotals.Sums sums) {
        if (sums.opened != 0) {
            points.opened.inc(sums.opened);
        }
        if (sums.closed != 0) {
            points.closed.inc(sums.closed);
        }
        // Istio's names are the workload's view: istio_tcp_received_bytes_total counts the request
        // bytes (what the proxy forwarded from the source, bytes_sent in the record),
        // istio_tcp_sent_bytes_total the response bytes (what came back to the source, bytes_received).
        if (sums.responseBytes != 0) {
            points.sent.inc(sums.responseBytes);
        }
        if (sums.requestBytes != 0) {
            points.received.inc(sums.requestBytes);
        }
    }

    private WorkloadLabels labels(Workload w) {
        WorkloadLabels labels = interned.get(w);
        if (labels == null) {
            labels = new WorkloadLabels(Workloads.orUnknown(w.getName()), Workloads.orUnknown(w.getNamespace()),
                    Workloads.orUnknown(w.getPrincipal()));
            // Bounded like the series: past the cap, labels are just not shared.
            if (interned.size() < MAX_INTERNED) {
                WorkloadLabels previous = interned.putIfAbsent(w, labels);
                if (previous != null) {
                    labels = previous;
                }
            }
        }
        return labels;
    }

    private String intern(String value) {
        String shared = internedStrings.get(value);
        if (shared == null) {
            shared = value;
            if (internedStrings.size() < MAX_INTERNED) {
                String previous = internedStrings.putIfAbsent(value, value);
                if (previous != null) {
                    shared = previous;
                }
            }
        }
        return shared;
    }

    private record WorkloadLabels(String name, String namespace, String principal) {
    }

    private void record(RequestRecord r) {
        SeriesKey key = new SeriesKey(reporter(r.getDirection()),
                Workloads.orUnknown(r.getSource().getName()), Workloads.orUnknown(r.getSource().getNamespace()),
                Workloads.orUnknown(r.getSource().getPrincipal()),
                Workloads.orUnknown(r.getDestination().getName()), Workloads.orUnknown(r.getDestination().getNamespace()),
                Workloads.orUnknown(r.getDestination().getPrincipal()),
                Workloads.orUnknown(r.getDestinationService()), r.getProtocol(), Integer.toString(r.getResponseCode()),
                r.getResponseFlags().isEmpty() ? ResponseFlags.NONE : r.getResponseFlags(),
                securityPolicy(r.getSecurityPolicy()));
        RequestPoints points = seriesFor(key).requests();
        points.count.inc();
        points.duration.observe(r.getDurationNanos() / 1_000_000.0);
    }

    /** Label sets in use, the overflow set included; never more than the limit. */
    public int seriesCount() {
        return series.size();
    }

    /** The configured label-set limit. */
    public int maxSeries() {
        return maxSeries;
    }

    /** Records folded into the overflow set so far. */
    public long overflowFolded() {
        return overflowFolded.getLongValue();
    }

    /**
     * The {@code n} busiest source → destination pairs by bytes both ways. A connection between
     * two pods of this node is reported by both ends; per pair the larger of the two reporters'
     * totals is taken so it is not counted twice.
     */
    public List<PairTotals> top(int n) {
        Map<List<String>, long[]> bySource = new HashMap<>();
        Map<List<String>, long[]> byDestination = new HashMap<>();
        for (Series s : series.values()) {
            TcpPoints points = s.tcp;
            if (points == null) {
                continue;
            }
            SeriesKey k = s.key;
            List<String> pair = List.of(k.sourceWorkload(), k.sourceNamespace(), k.destinationWorkload(),
                    k.destinationNamespace(), k.destinationService());
            long[] sums = ("destination".equals(k.reporter()) ? byDestination : bySource)
                    .computeIfAbsent(pair, p -> new long[4]);
            long connections = points.closed.getLongValue();
            sums[0] += points.received.getLongValue(); // request bytes: source -> destination
            sums[1] += points.sent.getLongValue();     // response bytes: destination -> source
            sums[2] += connections;
            if (!ResponseFlags.NONE.equals(k.responseFlags())) {
                sums[3] += connections;
            }
        }
        Map<List<String>, long[]> merged = new HashMap<>(bySource);
        byDestination.forEach((pair, sums) -> merged.merge(pair, sums, (a, b) -> {
            long[] max = new long[4];
            for (int i = 0; i < 4; i++) {
                max[i] = Math.max(a[i], b[i]);
            }
            return max;
        }));
        List<PairTotals> all = new ArrayList<>(merged.size());
        merged.forEach((p, s) -> all.add(new PairTotals(p.get(0), p.get(1), p.get(2), p.get(3), p.get(4),
                s[0], s[1], s[2], s[3])));
        all.sort(Comparator.comparingLong(PairTotals::bytes).reversed()
                .thenComparing(Comparator.comparingLong(PairTotals::connections).reversed()));
        return all.subList(0, Math.min(n, all.size()));
    }

    private Series seriesFor(SeriesKey key) {
        return seriesFor(key, 1);
    }

    /** The series of {@code key}, or the overflow set (counting {@code records} folded) once the limit is reached. */
    private Series seriesFor(SeriesKey key, long records) {
        Series s = series.get(key);
        if (s != null) {
            return s;
        }
        s = series.computeIfAbsent(key, k -> {
            // One slot stays free for the overflow set.
            int n;
            do {
                n = admitted.get();
                if (n >= maxSeries - 1) {
                    return null;
                }
            } while (!admitted.compareAndSet(n, n + 1));
            return new Series(k);
        });
        if (s != null) {
            return s;
        }
        overflowFolded.inc(records);
        return series.computeIfAbsent(SeriesKey.OVERFLOW_KEY, Series::new);
    }

    private static String reporter(Direction direction) {
        return direction == Direction.DIRECTION_INBOUND ? "destination" : "source";
    }

    private static String securityPolicy(SecurityPolicy policy) {
        return switch (policy) {
            case SECURITY_POLICY_NONE -> "none";
            case SECURITY_POLICY_MUTUAL_TLS -> "mutual_tls";
            default -> UNKNOWN;
        };
    }

    /** Data points of one label set, created on first use so TCP sets have no request series. */
    private final class Series {
        final SeriesKey key;
        volatile TcpPoints tcp;
        volatile RequestPoints requests;

        Series(SeriesKey key) {
            this.key = key;
        }

        TcpPoints tcp() {
            TcpPoints p = tcp;
            if (p == null) {
                synchronized (this) {
                    p = tcp;
                    if (p == null) {
                        String[] values = key.tcpValues();
                        p = new TcpPoints(opened.labelValues(values), closed.labelValues(values),
                                sent.labelValues(values), received.labelValues(values));
                        tcp = p;
                    }
                }
            }
            return p;
        }

        RequestPoints requests() {
            RequestPoints p = requests;
            if (p == null) {
                synchronized (this) {
                    p = requests;
                    if (p == null) {
                        String[] values = key.requestValues();
                        p = new RequestPoints(IstioMetrics.this.requests.labelValues(values),
                                requestDuration.labelValues(values));
                        requests = p;
                    }
                }
            }
            return p;
        }
    }

    private record TcpPoints(CounterDataPoint opened, CounterDataPoint closed, CounterDataPoint sent,
            CounterDataPoint received) {
    }

    private record RequestPoints(CounterDataPoint count, DistributionDataPoint duration) {
    }
}
