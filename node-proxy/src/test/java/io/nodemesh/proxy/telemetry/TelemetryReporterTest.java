package io.nodemesh.proxy.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.WorkloadRef;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reporter → agent over a real Unix socket, in every start order and with the agent coming and going. */
final class TelemetryReporterTest {

    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @TempDir
    Path dir;

    private Path socket() {
        return dir.resolve("telemetry.sock");
    }

    private TelemetryAgent startAgent() throws Exception {
        return TelemetryAgent.start(AgentConfig.builder()
                .socketPath(socket())
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                .build());
    }

    private ReporterConfig.Builder reporterConfig() {
        return ReporterConfig.builder()
                .socketPath(socket())
                .node("node-1")
                .flushInterval(Duration.ofMillis(100))
                .initialBackoff(Duration.ofMillis(20))
                .maxBackoff(Duration.ofMillis(200));
    }

    /** A lookup that knows two pods (and the service in front of the second). */
    private static final WorkloadLookup LOOKUP = new WorkloadLookup() {
        private final Map<String, WorkloadRef> pods = Map.of(
                "10.77.0.2", new WorkloadRef("productpage", "shop", "productpage-sa"),
                "10.77.0.3", new WorkloadRef("reviews", "books", "reviews-sa"));

        @Override
        public WorkloadRef workloadAt(InetAddress address) {
            return pods.get(address.getHostAddress());
        }

        @Override
        public String serviceAt(InetSocketAddress destination) {
            return destination.getAddress().getHostAddress().equals("10.77.0.3") && destination.getPort() == 9080
                    ? "reviews.books.svc.cluster.local" : null;
        }
    };

    private static ClosedConnection outbound(long sent, long received, Outcome outcome) {
        return new ClosedConnection(new OpenedConnection(Direction.OUTBOUND, "shop", "productpage-7d9f-abcde",
                "productpage-sa", new InetSocketAddress("10.77.0.2", 41000), new InetSocketAddress("10.77.0.3", 9080),
                System.currentTimeMillis() - 3), sent, received, 3_000_000, outcome);
    }

    private static ClosedConnection inbound(long sent, long received) {
        return new ClosedConnection(new OpenedConnection(Direction.INBOUND, "books", "reviews-5c6b-xyz12", "reviews-sa",
                new InetSocketAddress("10.77.0.9", 50000), new InetSocketAddress("10.77.0.3", 9080),
                System.currentTimeMillis() - 3), sent, received, 3_000_000, Outcome.OK);
    }

    private static String metrics(TelemetryAgent agent) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + agent.metricsAddress().getPort()
                + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
    }

    /** Sum of every sample of {@code name} whose line contains all {@code labels}. */
    private static double sum(String exposition, String name, String... labels) {
        double total = 0;
        for (String line : exposition.split("\n")) {
            if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
                continue;
            }
            boolean all = true;
            for (String label : labels) {
                all &= line.contains(label);
            }
            if (all) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return total;
    }

    private static void eventually(Duration within, BooleanSupplier condition, String what) throws Exception {
        long deadline = System.nanoTime() + within.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + within + ": " + what);
            }
            Thread.sleep(20);
        }
    }

    @Test
    void recordsReachTheAgentWithIstioLabelsAndExactCounts() throws Exception {
        try (TelemetryAgent agent = startAgent();
                TelemetryReporter reporter = TelemetryReporter.start(reporterConfig().build(), LOOKUP)) {
            for (int i = 0; i < 1000; i++) {
                reporter.closed(outbound(100, 1000, Outcome.OK));
            }
            reporter.closed(outbound(0, 0, Outcome.REFUSED));
            reporter.closed(inbound(7, 9));
            eventually(Duration.ofSeconds(2), () -> agent.selfMetrics().recordsReceived() == 1002,
                    "1002 records at the agent");

            String text = metrics(agent);
            String[] source = {"reporter=\"source\"", "source_workload=\"productpage\"",
                "source_workload_namespace=\"shop\"",
                "source_principal=\"spiffe://cluster.local/ns/shop/sa/productpage-sa\"",
                "destination_workload=\"reviews\"", "destination_workload_namespace=\"books\"",
                "destination_principal=\"spiffe://cluster.local/ns/books/sa/reviews-sa\"",
                "destination_service=\"reviews.books.svc.cluster.local\"", "response_flags=\"-\""};
            assertThat(sum(text, "istio_tcp_connections_closed_total", source)).isEqualTo(1000);
            // Istio's view: received = request bytes (from the source), sent = response bytes.
            assertThat(sum(text, "istio_tcp_received_bytes_total", source)).isEqualTo(100_000);
            assertThat(sum(text, "istio_tcp_sent_bytes_total", source)).isEqualTo(1_000_000);
            assertThat(sum(text, "istio_tcp_connections_closed_total", "response_flags=\"UF\"")).isEqualTo(1);
            // Inbound from a source nobody knows: reported by the destination, source unknown.
            String[] destination = {"reporter=\"destination\"", "source_workload=\"unknown\"",
                "destination_workload=\"reviews\""};
            assertThat(sum(text, "istio_tcp_sent_bytes_total", destination)).isEqualTo(9);
            assertThat(reporter.sentRecords()).isEqualTo(1002);
            assertThat(reporter.droppedRecords()).isZero();
        }
    }

    @Test
    void openingsAreReportedAtOnceAndTheirClosingsDoNotCountThemAgain() throws Exception {
        try (TelemetryAgent agent = startAgent();
                TelemetryReporter reporter = TelemetryReporter.start(reporterConfig().build(), LOOKUP)) {
            ClosedConnection done = outbound(100, 1000, Outcome.OK);
            OpenedConnection open = done.opening();
            assertThat(reporter.opened(open)).isTrue();
            assertThat(reporter.opened(open)).isTrue();
            eventually(Duration.ofSeconds(2), () -> agent.selfMetrics().recordsReceived() == 2, "2 openings at the agent");
            String[] source = {"reporter=\"source\"", "source_workload=\"productpage\"", "response_flags=\"-\""};
            String text = metrics(agent);
            assertThat(sum(text, "istio_tcp_connections_opened_total", source)).isEqualTo(2);
            assertThat(sum(text, "istio_tcp_connections_closed_total", source)).isZero();

            // One of them closes; and a connection whose opening was never reported closes too.
            reporter.closed(new ClosedConnection(done.opening(), 100, 1000, 3_000_000, Outcome.OK, true));
            reporter.closed(done);
            eventually(Duration.ofSeconds(2), () -> agent.selfMetrics().recordsReceived() == 4, "4 records at the agent");
            text = metrics(agent);
            assertThat(sum(text, "istio_tcp_connections_opened_total", source)).isEqualTo(3);
            assertThat(sum(text, "istio_tcp_connections_closed_total", source)).isEqualTo(2);
            assertThat(sum(text, "istio_tcp_received_bytes_total", source)).isEqualTo(200);
        }
    }

    @Test
    void aRecordWaitsNoLongerThanTheFlushIntervalEvenWhenTheReporterWasIdle() throws Exception {
        try (TelemetryAgent agent = startAgent();
                TelemetryReporter reporter = TelemetryReporter.start(
                        reporterConfig().flushInterval(Duration.ofSeconds(2)).build(), LOOKUP)) {
            Thread.sleep(500); // the reporter thread is parked with nothing to send
            long queued = System.nanoTime();
            reporter.closed(outbound(1, 2, Outcome.OK));

            // Sent at the end of its 2 s flush interval; a reporter that slept on through its idle wait (until up to
            // 2 s after it began) and only then started the record's interval would send it up to 3.5 s later.
            eventually(Duration.ofSeconds(5), () -> agent.selfMetrics().recordsReceived() == 1, "the record at the agent");
            assertThat(Duration.ofNanos(System.nanoTime() - queued)).isLessThan(Duration.ofMillis(3_000));
        }
    }

    @Test
    void aConnectionThatOpensAndClosesWithinOneBatchTravelsAsOneRecord() throws Exception {
        // A 3 s flush interval and room for 16: both events land in the batch the opening starts.
        try (TelemetryAgent agent = startAgent();
                TelemetryReporter reporter = TelemetryReporter.start(
                        reporterConfig().batchSize(16).flushInterval(Duration.ofSeconds(3)).build(), LOOKUP)) {
            ClosedConnection shortLived = outbound(100, 1000, Outcome.OK);
            ClosedConnection otherOpenedEarlier = inbound(7, 9);
            assertThat(reporter.opened(shortLived.opening())).isTrue();
            reporter.closed(new ClosedConnection(shortLived.opening(), 100, 1000, 3_000_000, Outcome.OK, true));
            // Its opening is not in this batch (it left in an earlier one): the closing alone, still open_reported.
            reporter.closed(new ClosedConnection(otherOpenedEarlier.opening(), 7, 9, 3_000_000, Outcome.OK, true));

            eventually(Duration.ofSeconds(6), () -> agent.selfMetrics().recordsReceived() == 2, "2 records at the agent");
            assertThat(reporter.sentRecords()).isEqualTo(2);
            String text = metrics(agent);
            String[] source = {"reporter=\"source\"", "source_workload=\"productpage\"", "response_flags=\"-\""};
            assertThat(sum(text, "istio_tcp_connections_opened_total", source)).isEqualTo(1);
            assertThat(sum(text, "istio_tcp_connections_closed_total", source)).isEqualTo(1);
            String[] destination = {"reporter=\"destination\"", "destination_workload=\"reviews\""};
            assertThat(sum(text, "istio_tcp_connections_opened_total", destination)).isZero();
            assertThat(sum(text, "istio_tcp_connections_closed_total", destination)).isEqualTo(1);
        }
    }

    @Test
    void manyOpeningsMeetTheirClosingsInOneBatchAndTheRestCountOnce() throws Exception {
        // 300 connections to one destination from distinct ports, opened in one batch; 200 of them closed in reverse
        // order in the same batch (each travels as one record), 100 closed in a later batch (their openings left in
        // the first), and a closing that claims an opening no one queued (also one record, open_reported).
        int n = 300;
        int closedEarly = 200;
        try (TelemetryAgent agent = startAgent();
                TelemetryReporter reporter = TelemetryReporter.start(
                        reporterConfig().batchSize(1024).flushInterval(Duration.ofSeconds(2)).build(), LOOKUP)) {
            long openedAt = System.currentTimeMillis() - 3;
            List<OpenedConnection> openings = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                OpenedConnection o = new OpenedConnection(Direction.OUTBOUND, "shop", "productpage-7d9f-abcde",
                        "productpage-sa", new InetSocketAddress("10.77.0.2", 30_000 + i),
                        new InetSocketAddress("10.77.0.3", 9080), openedAt);
                openings.add(o);
                assertThat(reporter.opened(o)).isTrue();
            }
            for (int i = closedEarly - 1; i >= 0; i--) {
                reporter.closed(new ClosedConnection(openings.get(i), 1, 2, 1_000, Outcome.OK, true));
            }
            OpenedConnection never = new OpenedConnection(Direction.OUTBOUND, "shop", "productpage-7d9f-abcde",
                    "productpage-sa", new InetSocketAddress("10.77.0.2", 29_999), new InetSocketAddress("10.77.0.3", 9080),
                    openedAt);
            reporter.closed(new ClosedConnection(never, 1, 2, 1_000, Outcome.OK, true));
            eventually(Duration.ofSeconds(6), () -> agent.selfMetrics().recordsReceived() == n + 1,
                    "the first batch: " + (n + 1) + " records");
            for (int i = closedEarly; i < n; i++) {
                reporter.closed(new ClosedConnection(openings.get(i), 1, 2, 1_000, Outcome.OK, true));
            }
            eventually(Duration.ofSeconds(6), () -> agent.selfMetrics().recordsReceived() == n + 1 + (n - closedEarly),
                    "the second batch");

            String text = metrics(agent);
            String[] source = {"reporter=\"source\"", "source_workload=\"productpage\""};
            // Opened: 300 counted from records (200 closings carrying theirs, 100 openings); the lone closing claimed
            // its opening was reported, so it is not counted as opened.
            assertThat(sum(text, "istio_tcp_connections_opened_total", source)).isEqualTo(n);
            assertThat(sum(text, "istio_tcp_connections_closed_total", source)).isEqualTo(n + 1);
            // Istio's "received" is what the client sent (1 byte each here), "sent" what it got back (2 each).
            assertThat(sum(text, "istio_tcp_received_bytes_total", source)).isEqualTo(n + 1);
            assertThat(sum(text, "istio_tcp_sent_bytes_total", source)).isEqualTo(2 * (n + 1));
            assertThat(reporter.sentRecords()).isEqualTo(n + 1 + (n - closedEarly));
            assertThat(reporter.droppedRecords()).isZero();
        }
    }

    @Test
    void aFullBufferRefusesAnOpeningSoItsClosingCountsIt() throws Exception {
        // No agent and a buffer of 16: the first openings are taken, later ones refused at once.
        try (TelemetryReporter reporter = TelemetryReporter.start(reporterConfig().bufferCapacity(16).batchSize(16).build(), LOOKUP)) {
            ClosedConnection done = outbound(1, 1, Outcome.OK);
            OpenedConnection open = done.opening();
            int taken = 0;
            boolean refused = false;
            for (int i = 0; i < 10_000 && !refused; i++) {
                if (reporter.opened(open)) {
                    taken++;
                } else {
                    refused = true;
                }
            }
            assertThat(refused).isTrue();
            assertThat(taken).isGreaterThanOrEqualTo(16);
            assertThat(reporter.droppedRecords()).isGreaterThanOrEqualTo(1);
        }
    }

    @Test
    void withoutAnAgentRecordsAreDroppedAndCountedAndClosedNeverBlocks() throws Exception {
        int calls = 200_000;
        try (TelemetryReporter reporter = TelemetryReporter.start(
                reporterConfig().bufferCapacity(1024).batchSize(512).build(), LOOKUP)) {
            ClosedConnection c = outbound(1, 1, Outcome.OK);
            for (int i = 0; i < calls; i++) {
                reporter.closed(c);
            }
            // Everything the queue did not take is dropped at once; the rest when sending fails. The
            // reporter thread may hold one batch it has taken but not yet given up on.
            int batch = reporterConfig().build().batchSize();
            assertThat(reporter.droppedRecords()).isGreaterThanOrEqualTo(calls - 1024 - batch);
            eventually(Duration.ofSeconds(10), () -> reporter.droppedRecords() == calls, "all records dropped");
            assertThat(reporter.sentRecords()).isZero();
        }
    }

    @Test
    void reportingResumesByItselfWhenTheAgentRestarts() throws Exception {
        try (TelemetryReporter reporter = TelemetryReporter.start(reporterConfig().build(), LOOKUP)) {
            try (TelemetryAgent agent = startAgent()) {
                reporter.closed(outbound(1, 1, Outcome.OK));
                eventually(Duration.ofSeconds(5), () -> agent.selfMetrics().recordsReceived() == 1, "first agent");
            }
            // Agent gone: what is reported now cannot be delivered.
            for (int i = 0; i < 10; i++) {
                reporter.closed(outbound(1, 1, Outcome.OK));
            }
            eventually(Duration.ofSeconds(5), () -> reporter.droppedRecords() == 10, "records dropped while away");
            try (TelemetryAgent agent = startAgent()) {
                // Keep reporting until the reporter's back-off lets it reconnect.
                eventually(Duration.ofSeconds(10), () -> {
                    reporter.closed(outbound(5, 5, Outcome.OK));
                    return agent.selfMetrics().recordsReceived() > 0;
                }, "second agent receives");
                assertThat(reporter.reconnects()).isPositive();
                long before = agent.selfMetrics().recordsReceived();
                for (int i = 0; i < 100; i++) {
                    reporter.closed(outbound(5, 5, Outcome.OK));
                }
                eventually(Duration.ofSeconds(5), () -> agent.selfMetrics().recordsReceived() >= before + 100,
                        "100 more records after the restart");
                eventually(Duration.ofSeconds(5), () -> {
                    try {
                        return sum(metrics(agent), "nodemesh_agent_reporter_dropped_records_total") >= 10;
                    } catch (Exception e) {
                        throw new AssertionError(e);
                    }
                }, "the agent learns how many the reporter dropped");
            }
        }
    }

    @Test
    void reporterStartedBeforeTheAgentDeliversOnceItIsUp() throws Exception {
        try (TelemetryReporter reporter = TelemetryReporter.start(reporterConfig().build(), LOOKUP)) {
            reporter.closed(outbound(1, 1, Outcome.OK)); // nobody listening yet: dropped
            eventually(Duration.ofSeconds(5), () -> reporter.droppedRecords() == 1, "dropped before the agent");
            try (TelemetryAgent agent = startAgent()) {
                eventually(Duration.ofSeconds(10), () -> {
                    reporter.closed(outbound(2, 2, Outcome.OK));
                    return agent.selfMetrics().recordsReceived() > 0;
                }, "records reach the agent started second");
            }
        }
    }
}
