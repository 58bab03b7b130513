package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.UnknownFieldSet;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportAck;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.Workload;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Whatever a peer sends, the agent answers with a clear status and keeps serving. */
final class BadInputTest {

    @TempDir
    Path dir;

    private TelemetryAgent agent;
    private ReportClient client;

    @BeforeEach
    void start() throws IOException {
        agent = TelemetryAgent.start(AgentConfig.builder()
                .socketPath(dir.resolve("t.sock"))
                .metricsAddress(new InetSocketAddress("127.0.0.1", 0))
                .maxStreamsPerConnection(8)
                .maxActiveStreams(32)
                .build());
        client = new ReportClient(agent.socketPath());
    }

    @AfterEach
    void stop() throws InterruptedException {
        client.close();
        agent.close();
    }

    private void assertStillServing() throws Exception {
        try (ReportClient fresh = new ReportClient(agent.socketPath())) {
            ReportClient.Result ok = fresh.send(ReportClient.batch()
                    .addConnections(ReportClient.connection("alive", 1, 1, Outcome.OUTCOME_OK)).build());
            assertThat(ok.status().getCode()).isEqualTo(Status.Code.OK);
            assertThat(ok.ack().getAcceptedRecords()).isEqualTo(1);
        }
        assertThat(MetricsScrape.fetch(agent.metricsAddress())).contains("source_workload=\"alive\"");
    }

    @Test
    void garbageBytesOnTheSocketCloseThatConnectionOnly() throws Exception {
        byte[] garbage = new byte[64 * 1024];
        new Random(42).nextBytes(garbage);
        try (SocketChannel raw = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            raw.connect(UnixDomainSocketAddress.of(agent.socketPath()));
            raw.write(ByteBuffer.wrap(garbage));
            // The agent answers (GOAWAY at most) and closes; read to EOF within a bounded time.
            ByteBuffer sink = ByteBuffer.allocate(4096);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int n = 0;
            while (n >= 0 && System.nanoTime() < deadline) {
                sink.clear();
                n = raw.read(sink);
            }
            assertThat(n).as("agent closes a connection that does not speak HTTP/2").isEqualTo(-1);
        } catch (IOException e) {
            // A reset instead of an orderly close is just as good.
        }
        assertStillServing();
    }

    @Test
    void unknownFieldsFromANewerReporterAreIgnored() throws Exception {
        UnknownFieldSet extra = UnknownFieldSet.newBuilder()
                .addField(99, UnknownFieldSet.Field.newBuilder().addVarint(7).build())
                .addField(100, UnknownFieldSet.Field.newBuilder()
                        .addLengthDelimited(com.google.protobuf.ByteString.copyFromUtf8("future")).build())
                .build();
        ConnectionRecord record = ReportClient.connection("newer", 10, 20, Outcome.OUTCOME_OK)
                .setUnknownFields(extra).build();
        ReportBatch batch = ReportClient.batch().addConnections(record).setUnknownFields(extra).build();
        // What goes over the wire really carries the unknown fields.
        assertThat(ReportBatch.parseFrom(batch.toByteArray()).getUnknownFields().asMap()).containsKeys(99, 100);

        ReportClient.Result result = client.send(batch);
        assertThat(result.status().getCode()).isEqualTo(Status.Code.OK);
        assertThat(result.ack().getAcceptedRecords()).isEqualTo(1);
        assertThat(MetricsScrape.value(MetricsScrape.fetch(agent.metricsAddress()), "istio_tcp_received_bytes_total",
                "source_workload=\"newer\"")).isEqualTo(10);
    }

    @Test
    void anUnsupportedProtocolVersionIsRejected() throws Exception {
        ReportClient.Result result = client.send(ReportClient.batch().setProtocolVersion(2)
                .addConnections(ReportClient.connection("v2", 1, 1, Outcome.OUTCOME_OK)).build());
        assertThat(result.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
        assertThat(result.status().getDescription()).contains("protocol_version: 2 is not supported");
        assertStillServing();
    }

    @Test
    void absurdValuesAreRejectedWithTheFieldNamed() throws Exception {
        List<ReportBatch> bad = List.of(
                ReportClient.batch().addConnections(ReportClient.connection("neg", -5, 1, Outcome.OUTCOME_OK)).build(),
                ReportClient.batch().addConnections(ReportClient.connection("dur", 1, 1, Outcome.OUTCOME_OK)
                        .setDurationNanos(-1)).build(),
                ReportClient.batch().addConnections(ReportClient.connection("port", 1, 1, Outcome.OUTCOME_OK)
                        .setDestinationPort(70_000)).build(),
                ReportClient.batch().addConnections(ReportClient.connection("x".repeat(100_000), 1, 1,
                        Outcome.OUTCOME_OK)).build(),
                ReportClient.batch().addWorkloads(Workload.newBuilder().setName("w"))
                        .addConnections(ReportClient.connection("ref", 1, 1, Outcome.OUTCOME_OK).setSourceRef(5))
                        .build(),
                ReportClient.batch().addConnections(ReportClient.connection("both", 1, 1, Outcome.OUTCOME_OK)
                        .setSourceIpv4(0x0a4d0002)).build(),
                ReportClient.batch().addConnections(ReportClient.connection("fam", 1, 1, Outcome.OUTCOME_OK)
                        .clearDestinationAddress().setDestinationIpv4(0x0a4d0003).setDestinationIpv6Low(1)).build(),
                ReportClient.batch().addConnections(ReportClient.connection("sport", 1, 1, Outcome.OUTCOME_OK)
                        .clearSourceAddress().setSourceIpv4(0x0a4d0002).setSourcePort(70_000)).build(),
                ReportClient.batch().addConnections(ReportClient.opened("side")
                        .setEndedBy(io.nodemesh.telemetry.v1.Side.SIDE_UPSTREAM)).build());
        List<String> expected = List.of("connections[0].bytes_sent: 18446744073709551611 exceeds",
                "connections[0].duration_nanos: -1 is negative",
                "connections[0].destination_port: 70000 is not a port",
                "connections[0].source.name: 100000 chars exceed the limit of 256",
                "connections[0].source_ref: 5 points past the 1 workloads of the batch",
                "connections[0].source_address: set either it or source_ipv4/source_ipv6_*/source_port, not both",
                "connections[0].destination_ipv4 and destination_ipv6_*: an end has one address, not both families",
                "connections[0].source_port: 70000 is not a port",
                "an OPENED record carries no duration_nanos, outcome, ended_by");
        for (int i = 0; i < bad.size(); i++) {
            ReportClient.Result result = client.send(bad.get(i));
            assertThat(result.status().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(result.status().getDescription()).contains(expected.get(i));
        }
        assertThat(agent.selfMetrics().batchesRejected(
                io.nodemesh.telemetry.metrics.AgentSelfMetrics.RejectReason.INVALID)).isEqualTo(bad.size());
        // Nothing of a rejected batch was aggregated.
        assertThat(agent.metrics().seriesCount()).isZero();
        assertStillServing();
    }

    @Test
    void aTenMegabyteLabelHitsTheMessageSizeLimit() throws Exception {
        ReportBatch huge = ReportClient.batch().addConnections(ReportClient.connection("w", 1, 1, Outcome.OUTCOME_OK)
                .setDestination(Workload.newBuilder().setName("y".repeat(10 << 20)))).build();
        ReportClient.Result result = client.send(huge);
        // gRPC refuses the message before it is parsed: RESOURCE_EXHAUSTED, not INVALID_ARGUMENT.
        assertThat(result.status().getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
        assertThat(result.status().getDescription()).contains("exceeds maximum");
        assertStillServing();
    }

    @Test
    void aPeerOpeningAThousandStreamsIsBounded() throws Exception {
        List<ClientCallStreamObserver<ReportBatch>> calls = new ArrayList<>();
        List<CompletableFuture<Status>> outcomes = new ArrayList<>();
        // 1000 streams on one connection: HTTP/2 MAX_CONCURRENT_STREAMS lets 8 in at a time.
        for (int i = 0; i < 1000; i++) {
            openStream(client, calls, outcomes);
        }
        int peak = 0;
        for (int i = 0; i < 20; i++) {
            peak = Math.max(peak, agent.selfMetrics().activeStreams().get());
            Thread.sleep(10);
        }
        assertThat(peak).isBetween(1, 8);

        // Many connections: the agent-wide limit (32) turns the rest away.
        List<ReportClient> others = new ArrayList<>();
        for (int c = 0; c < 10; c++) {
            ReportClient other = new ReportClient(agent.socketPath());
            others.add(other);
            for (int i = 0; i < 8; i++) {
                openStream(other, calls, outcomes);
            }
        }
        long refused = 0;
        for (int i = 1000; i < outcomes.size(); i++) {
            try {
                Status status = outcomes.get(i).get(200, TimeUnit.MILLISECONDS);
                if (status.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                    refused++;
                }
            } catch (java.util.concurrent.TimeoutException stillOpen) {
                // Admitted and still open.
            }
        }
        assertThat(agent.selfMetrics().activeStreams().get()).isLessThanOrEqualTo(32);
        assertThat(refused).isGreaterThanOrEqualTo(80 - 32);

        for (ClientCallStreamObserver<ReportBatch> call : calls) {
            call.cancel("test done", null);
        }
        for (ReportClient other : others) {
            other.close();
        }
        assertStillServing();
    }

    private static void openStream(ReportClient on, List<ClientCallStreamObserver<ReportBatch>> calls,
            List<CompletableFuture<Status>> outcomes) {
        CompletableFuture<Status> outcome = new CompletableFuture<>();
        outcomes.add(outcome);
        on.stub().report(new ClientResponseObserver<ReportBatch, ReportAck>() {
            @Override
            public void beforeStart(ClientCallStreamObserver<ReportBatch> requestStream) {
                calls.add(requestStream);
            }

            @Override
            public void onNext(ReportAck value) {
            }

            @Override
            public void onError(Throwable t) {
                outcome.complete(Status.fromThrowable(t));
            }

            @Override
            public void onCompleted() {
                outcome.complete(Status.OK);
            }
        });
    }

}
