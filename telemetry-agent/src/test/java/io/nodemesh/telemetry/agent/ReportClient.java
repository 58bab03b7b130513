package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.nodemesh.telemetry.v1.Address;
import io.nodemesh.telemetry.v1.ConnectionPhase;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.Outcome;
import io.nodemesh.telemetry.v1.ReportAck;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.SecurityPolicy;
import io.nodemesh.telemetry.v1.TelemetryReportGrpc;
import io.nodemesh.telemetry.v1.Workload;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** A plain gRPC client of the agent's socket, for tests that speak the protocol directly. */
final class ReportClient implements AutoCloseable {

    private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
    private final ManagedChannel channel;

    ReportClient(Path socket) {
        channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .usePlaintext()
                .maxInboundMessageSize(64 << 20)
                .build();
    }

    TelemetryReportGrpc.TelemetryReportStub stub() {
        return TelemetryReportGrpc.newStub(channel);
    }

    /** Sends the batches on one stream, half-closes, and returns the ack or the failure status. */
    Result send(List<ReportBatch> batches) throws InterruptedException {
        OpenStream stream = open();
        batches.forEach(stream::send);
        return stream.finish();
    }

    /** Sends each batch on a stream of its own and returns why the agent refused each; fails if it took one. */
    List<String> refusals(List<ReportBatch> batches) throws InterruptedException {
        List<String> problems = new ArrayList<>();
        for (ReportBatch batch : batches) {
            Result result = send(batch);
            assertThat(result.status().getCode()).as("the agent's answer to %s", batch)
                    .isEqualTo(Status.Code.INVALID_ARGUMENT);
            problems.add(result.status().getDescription());
        }
        return problems;
    }

    /** A stream held open, as a proxy's reporter holds it, until {@link OpenStream#finish}. */
    OpenStream open() {
        CompletableFuture<ReportAck> done = new CompletableFuture<>();
        StreamObserver<ReportBatch> requests = stub().withDeadlineAfter(60, TimeUnit.SECONDS)
                .report(new StreamObserver<>() {
                    @Override
                    public void onNext(ReportAck value) {
                        done.complete(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        done.complete(null);
                    }
                });
        return new OpenStream(requests, done);
    }

    /** One report stream: batches go out as they are sent; {@link #finish} half-closes and waits for the answer. */
    record OpenStream(StreamObserver<ReportBatch> requests, CompletableFuture<ReportAck> done) {

        void send(ReportBatch batch) {
            requests.onNext(batch);
        }

        Result finish() throws InterruptedException {
            requests.onCompleted();
            try {
                return new Result(done.get(30, TimeUnit.SECONDS), Status.OK);
            } catch (ExecutionException e) {
                return new Result(null, Status.fromThrowable(e.getCause()));
            } catch (TimeoutException e) {
                throw new AssertionError("no answer from the agent within 30 s", e);
            }
        }
    }

    Result send(ReportBatch batch) throws InterruptedException {
        return send(List.of(batch));
    }

    @Override
    public void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    /** The ack (null on failure) and the final status. */
    record Result(ReportAck ack, Status status) {
    }

    static ReportBatch.Builder batch() {
        return ReportBatch.newBuilder().setProtocolVersion(1).setReporterId("test").setNode("node-1");
    }

    /** The OPENED record of an outbound connection from {@code source} to "reviews", as a reporter sends it at accept. */
    static ConnectionRecord.Builder opened(String source) {
        return connection(source, 0, 0, Outcome.OUTCOME_UNSPECIFIED)
                .setPhase(ConnectionPhase.CONNECTION_PHASE_OPENED)
                .setDurationNanos(0);
    }

    /** An outbound connection record from workload {@code source} in ns "a" to "reviews" in ns "b". */
    static ConnectionRecord.Builder connection(String source, long sent, long received, Outcome outcome) {
        return ConnectionRecord.newBuilder()
                .setDirection(Direction.DIRECTION_OUTBOUND)
                .setSource(Workload.newBuilder().setName(source).setNamespace("a")
                        .setPrincipal("spiffe://cluster.local/ns/a/sa/" + source))
                .setDestination(Workload.newBuilder().setName("reviews").setNamespace("b")
                        .setPrincipal("spiffe://cluster.local/ns/b/sa/reviews"))
                .setDestinationService("reviews.b.svc.cluster.local")
                .setDestinationPort(9080)
                .setSourceAddress(Address.newBuilder().setIp(ByteString.copyFrom(new byte[] {10, 77, 0, 2}))
                        .setPort(40_000))
                .setDestinationAddress(Address.newBuilder().setIp(ByteString.copyFrom(new byte[] {10, 77, 0, 3}))
                        .setPort(9080))
                .setBytesSent(sent)
                .setBytesReceived(received)
                .setOpenedAtEpochMillis(System.currentTimeMillis() - 5)
                .setDurationNanos(5_000_000)
                .setOutcome(outcome)
                .setSecurityPolicy(SecurityPolicy.SECURITY_POLICY_NONE);
    }
}
