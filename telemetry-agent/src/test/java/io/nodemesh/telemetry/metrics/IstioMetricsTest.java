package io.nodemesh.telemetry.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.telemetry.v1.ConnectionPhase;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.SecurityPolicy;
import io.nodemesh.telemetry.v1.Side;
import io.nodemesh.telemetry.v1.Workload;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import org.junit.jupiter.api.Test;

/**
 * Records that name their workloads through the batch table are summed per label set before they
 * reach the series; the sums must equal what counting record by record gives.
 */
class IstioMetricsTest {

    private static ConnectionRecord.Builder closed(int source, int destination, Outcome outcome, long request, long response) {
        return ConnectionRecord.newBuilder().setDirection(Direction.DIRECTION_OUTBOUND).setSourceRef(source)
                .setDestinationRef(destination).setDestinationServiceRef(1).setDestinationPort(9080)
                .setBytesSent(request).setBytesReceived(response).setOutcome(outcome)
                .setSecurityPolicy(SecurityPolicy.SECURITY_POLICY_NONE);
    }

    private static ReportBatch.Builder batch(int workloads) {
        ReportBatch.Builder b = ReportBatch.newBuilder().setProtocolVersion(1).setReporterId("t").setNode("n")
                .addServices("reviews.b.svc.cluster.local");
        for (int i = 1; i <= workloads; i++) {
            b.addWorkloads(Workload.newBuilder().setName("w" + i).setNamespace("ns").setPrincipal("spiffe://td/ns/ns/sa/w" + i));
        }
        return b;
    }

    private static double value(PrometheusRegistry registry, String family, String sourceWorkload, String flags) {
        double total = 0;
        for (MetricSnapshot s : registry.scrape()) {
            if (s instanceof CounterSnapshot c && c.getMetadata().getName().equals(family)) {
                for (CounterSnapshot.CounterDataPointSnapshot p : c.getDataPoints()) {
                    if (sourceWorkload.equals(p.getLabels().get("source_workload"))
                            && (flags == null || flags.equals(p.getLabels().get("response_flags")))) {
                        total += p.getValue();
                    }
                }
            }
        }
        return total;
    }

    @Test
    void theSideThatEndedAConnectionPicksItsResponseFlags() {
        PrometheusRegistry registry = new PrometheusRegistry();
        IstioMetrics metrics = new IstioMetrics(registry, 100);
        ReportBatch.Builder b = batch(2);
        b.addConnections(closed(1, 2, Outcome.OUTCOME_RESET, 1, 1).setEndedBy(Side.SIDE_UPSTREAM));
        b.addConnections(closed(1, 2, Outcome.OUTCOME_RESET, 1, 1).setEndedBy(Side.SIDE_DOWNSTREAM));
        b.addConnections(closed(1, 2, Outcome.OUTCOME_RESET, 1, 1).setEndedBy(Side.SIDE_DOWNSTREAM));
        b.addConnections(closed(1, 2, Outcome.OUTCOME_RESET, 1, 1)); // a reporter that does not say: upstream
        b.addConnections(closed(1, 2, Outcome.OUTCOME_PEER_LOST, 1, 1).setEndedBy(Side.SIDE_DOWNSTREAM));
        b.addConnections(closed(1, 2, Outcome.OUTCOME_PEER_LOST, 1, 1).setEndedBy(Side.SIDE_UPSTREAM));
        b.addConnections(closed(1, 2, Outcome.OUTCOME_ERROR, 1, 1).setEndedBy(Side.SIDE_UPSTREAM));

        metrics.record(b.build());

        assertThat(value(registry, "istio_tcp_connections_closed", "w1", "UR")).isEqualTo(2);
        assertThat(value(registry, "istio_tcp_connections_closed", "w1", "DR")).isEqualTo(2);
        assertThat(value(registry, "istio_tcp_connections_closed", "w1", "DC")).isEqualTo(1);
        assertThat(value(registry, "istio_tcp_connections_closed", "w1", "UC")).isEqualTo(2);
        assertThat(value(registry, "istio_tcp_connections_closed", "w1", null)).isEqualTo(7);
    }

    @Test
    void summedLabelSetsCountLikeSingleRecords() {
        PrometheusRegistry registry = new PrometheusRegistry();
        IstioMetrics metrics = new IstioMetrics(registry, 100);
        ReportBatch.Builder b = batch(3);
        for (int i = 0; i < 10; i++) {
            b.addConnections(closed(1, 2, Outcome.OUTCOME_OK, 100, 1000));
        }
        for (int i = 0; i < 5; i++) {
            b.addConnections(closed(1, 2, Outcome.OUTCOME_REFUSED, 0, 0));
        }
        for (int i = 0; i < 4; i++) {
            b.addConnections(closed(1, 2, Outcome.OUTCOME_UNSPECIFIED, 0, 0).setPhase(ConnectionPhase.CONNECTION_PHASE_OPENED));
        }
        b.addConnections(closed(1, 2, Outcome.OUTCOME_OK, 7, 9).setOpenReported(true));
        b.addConnections(closed(1, 2, Outcome.OUTCOME_OK, 7, 9).setOpenReported(true));
        // Inline workload and own response flags: counted one by one, into the same families.
        b.addConnections(closed(0, 2, Outcome.OUTCOME_OK, 1, 1).setSource(Workload.newBuilder().setName("w1")
                .setNamespace("ns").setPrincipal("spiffe://td/ns/ns/sa/w1")));
        b.addConnections(closed(3, 2, Outcome.OUTCOME_OK, 1, 1).setResponseFlags("DC"));

        metrics.record(b.build());

        // w1 → w2, flags "-": 10 OK + 2 open-reported closings + 1 inline; openings: 4 + 10 + 1 (2 were reported).
        assertThat(value(registry, "istio_tcp_connections_closed", "w1", "-")).isEqualTo(13);
        assertThat(value(registry, "istio_tcp_connections_opened", "w1", "-")).isEqualTo(15);
        assertThat(value(registry, "istio_tcp_connections_closed", "w1", "UF")).isEqualTo(5);
        assertThat(value(registry, "istio_tcp_connections_opened", "w1", "UF")).isEqualTo(5);
        assertThat(value(registry, "istio_tcp_received_bytes", "w1", null)).isEqualTo(10 * 100 + 2 * 7 + 1);
        assertThat(value(registry, "istio_tcp_sent_bytes", "w1", null)).isEqualTo(10 * 1000 + 2 * 9 + 1);
        assertThat(value(registry, "istio_tcp_connections_closed", "w3", "DC")).isEqualTo(1);
        assertThat(metrics.overflowFolded()).isZero();
    }

    @Test
    void foldedRecordsAreCountedOneByOneEvenWhenSummed() {
        PrometheusRegistry registry = new PrometheusRegistry();
        // Two series: one for a label set, one kept for the overflow set.
        IstioMetrics metrics = new IstioMetrics(registry, 2);
        ReportBatch.Builder b = batch(3);
        for (int i = 0; i < 7; i++) {
            b.addConnections(closed(1, 2, Outcome.OUTCOME_OK, 1, 1));
        }
        for (int i = 0; i < 5; i++) {
            b.addConnections(closed(3, 2, Outcome.OUTCOME_OK, 1, 1));
        }

        metrics.record(b.build());

        // Whichever label set got the one free series, the other's records all folded.
        long admitted = (long) (value(registry, "istio_tcp_connections_closed", "w1", null)
                + value(registry, "istio_tcp_connections_closed", "w3", null));
        assertThat(admitted).isIn(7L, 5L);
        assertThat(metrics.overflowFolded()).isEqualTo(12 - admitted);
        assertThat(value(registry, "istio_tcp_connections_closed", "overflow", null)).isEqualTo(12 - admitted);
    }
}
