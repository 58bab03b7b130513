package io.nodemesh.telemetry.agent;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.nodemesh.linux.UnixSocketFile;
import java.io.IOException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * The agent's report socket: the Report RPC over gRPC on a Unix socket (mode 0660), peers admitted by their
 * credentials ({@link PeerCredentialsGate}), each stream a {@link ReportIntake.Session}. Its own threads: one accepts,
 * one does the socket's I/O, two aggregate. An agent hosted in the proxy's process has none of this.
 */
final class GrpcReportServer {

    private final AgentConfig config;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService executor;
    private final Server server;

    private GrpcReportServer(AgentConfig config, EventLoopGroup boss, EventLoopGroup workers, ExecutorService executor,
            Server server) {
        this.config = config;
        this.boss = boss;
        this.workers = workers;
        this.executor = executor;
        this.server = server;
    }

    /** Binds {@code config.socketPath()}; fails with a message naming what could not be set up, leaving nothing. */
    static GrpcReportServer start(AgentConfig config, ReportIntake intake, PeerCredentialsGate gate)
            throws IOException {
        if (!Epoll.isAvailable()) {
            throw new IOException("the telemetry agent needs Netty's epoll transport (Linux): "
                    + Epoll.unavailabilityCause());
        }
        UnixSocketFile.prepare(config.socketPath(),
                "another process is already listening on " + config.socketPath());
        EventLoopGroup boss = new MultiThreadIoEventLoopGroup(1,
                new DefaultThreadFactory("telemetry-accept", true), EpollIoHandler.newFactory());
        EventLoopGroup workers = new MultiThreadIoEventLoopGroup(1,
                new DefaultThreadFactory("telemetry-io", true), EpollIoHandler.newFactory());
        // Aggregation is CPU-only and short; two threads let two reporters progress at once.
        ExecutorService executor = Executors.newFixedThreadPool(2, new DefaultThreadFactory("telemetry-report", true));
        Server server = null;
        try {
            server = NettyServerBuilder.forAddress(new DomainSocketAddress(config.socketPath().toString()))
                    .channelFactory(() -> {
                        EpollServerDomainSocketChannel channel = new EpollServerDomainSocketChannel();
                        channel.pipeline().addLast(gate);
                        return channel;
                    })
                    .bossEventLoopGroup(boss)
                    .workerEventLoopGroup(workers)
                    .executor(executor)
                    .maxInboundMessageSize(config.maxInboundMessageBytes())
                    .maxInboundMetadataSize(16 * 1024)
                    .maxConcurrentCallsPerConnection(config.maxStreamsPerConnection())
                    .permitKeepAliveTime(10, TimeUnit.SECONDS)
                    .permitKeepAliveWithoutCalls(true)
                    .addService(new ReportService(intake))
                    .build()
                    .start();
            UnixSocketFile.restrict(config.socketPath(), "rw-rw----"); // owner and group (0660)
            return new GrpcReportServer(config, boss, workers, executor, server);
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.shutdownNow();
            }
            shutdown(boss, workers, executor);
            UnixSocketFile.remove(config.socketPath());
            throw e instanceof IOException io ? io
                    : new IOException("cannot start the telemetry agent on " + config.socketPath() + ": "
                            + e.getMessage(), e);
        }
    }

    /** Stops accepting, waits briefly for open streams, and removes the socket file. */
    void stop() {
        server.shutdown();
        try {
            if (!server.awaitTermination(2, TimeUnit.SECONDS)) {
                server.shutdownNow();
                server.awaitTermination(2, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            server.shutdownNow();
            Thread.currentThread().interrupt();
        }
        shutdown(boss, workers, executor);
        UnixSocketFile.remove(config.socketPath());
    }

    private static void shutdown(EventLoopGroup boss, EventLoopGroup workers, ExecutorService executor) {
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        executor.shutdownNow();
    }
}
