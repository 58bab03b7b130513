package io.nodemesh.proxy.telemetry;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.nodemesh.telemetry.v1.TelemetryReportGrpc;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * The agent on its Unix socket: one gRPC channel over Netty's epoll domain sockets, its event loop on one daemon thread
 * {@link TelemetryReporter#lowerPriority lowered} like the reporter's.
 */
final class GrpcReportTransport implements ReportTransport {

    private final Path socket;
    private final EventLoopGroup group;
    private final ManagedChannel channel;

    /**
     * @param proxyNice the proxy's nice value, which the client's thread runs {@link TelemetryReporter#NICE_INCREMENT}
     *                  below
     */
    GrpcReportTransport(Path socket, int proxyNice) {
        this.socket = socket;
        this.group = new MultiThreadIoEventLoopGroup(1, new LowerPriorityThreads("telemetry-client", proxyNice),
                EpollIoHandler.newFactory());
        this.channel = NettyChannelBuilder.forAddress(new DomainSocketAddress(socket.toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .directExecutor() // callbacks only set flags and unpark the reporter thread
                .usePlaintext()
                .build();
    }

    @Override
    public Stream open(Thread reporter) {
        channel.resetConnectBackoff();
        return ReportStream.open(TelemetryReportGrpc.newStub(channel), reporter);
    }

    @Override
    public void close() {
        channel.shutdownNow();
        try {
            channel.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Override
    public String toString() {
        return socket.toString();
    }

    /**
     * Netty's daemon threads for the gRPC client, each {@link TelemetryReporter#lowerPriority lowered} before it runs
     * anything.
     */
    private static final class LowerPriorityThreads extends DefaultThreadFactory {
        private final int proxyNice;

        LowerPriorityThreads(String name, int proxyNice) {
            super(name, true);
            this.proxyNice = proxyNice;
        }

        @Override
        protected Thread newThread(Runnable r, String name) {
            return super.newThread(() -> {
                TelemetryReporter.lowerPriority(proxyNice);
                r.run();
            }, name);
        }
    }
}
