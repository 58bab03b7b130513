package io.nodemesh.telemetry.agent;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.nodemesh.linux.UnixSocketFile;
import io.nodemesh.telemetry.accesslog.AccessLog;
import io.nodemesh.telemetry.http.MetricsHttpServer;
import io.nodemesh.telemetry.metrics.AgentSelfMetrics;
import io.nodemesh.telemetry.metrics.CaptureMetrics;
import io.nodemesh.telemetry.metrics.TunnelMetrics;
import io.nodemesh.telemetry.metrics.IstioMetrics;
import io.nodemesh.telemetry.report.BatchValidator;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's telemetry agent: receives report batches on a Unix socket (gRPC), aggregates them
 * into Istio-named Prometheus series, writes an access log and serves {@code /metrics}.
 * Start with {@link #start(AgentConfig)}; {@link #close()} stops it and removes the socket file.
 */
public final class TelemetryAgent implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TelemetryAgent.class);

    private final AgentConfig config;
    private final IstioMetrics metrics;
    private final CaptureMetrics captures;
    private final AgentSelfMetrics self;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService executor;
    private final Server server;
    private final AccessLog accessLog;
    private final MetricsHttpServer http;
    private boolean stopped;

    private TelemetryAgent(AgentConfig config, IstioMetrics metrics, CaptureMetrics captures, AgentSelfMetrics self,
            EventLoopGroup boss, EventLoopGroup workers, ExecutorService executor, Server server, AccessLog accessLog,
            MetricsHttpServer http) {
        this.config = config;
        this.metrics = metrics;
        this.captures = captures;
        this.self = self;
        this.boss = boss;
        this.workers = workers;
        this.executor = executor;
        this.server = server;
        this.accessLog = accessLog;
        this.http = http;
    }

    /** Binds the report socket and the HTTP server; fails with a message naming what could not be set up. */
    public static TelemetryAgent start(AgentConfig config) throws IOException {
        if (!Epoll.isAvailable()) {
            throw new IOException("the telemetry agent needs Netty's epoll transport (Linux): "
                    + Epoll.unavailabilityCause());
        }
        PrometheusRegistry registry = new PrometheusRegistry();
        IstioMetrics metrics = new IstioMetrics(registry, config.maxSeries());
        AgentSelfMetrics self = new AgentSelfMetrics(registry, metrics::seriesCount);
        CaptureMetrics captures = new CaptureMetrics(registry);
        AccessLog accessLog = openAccessLog(config, self);
        Set<Integer> allowed = config.allowedPeerUids().isEmpty()
                ? Set.copyOf(java.util.List.of(0, ownUid()))
                : config.allowedPeerUids();
        PeerCredentialsGate gate = new PeerCredentialsGate(allowed, self);
        ReportService service = new ReportService(new BatchValidator(config.limits(), System::currentTimeMillis),
                metrics, captures, new TunnelMetrics(registry), self, accessLog, config.maxActiveStreams());

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
                    .addService(service)
                    .build()
                    .start();
            UnixSocketFile.restrict(config.socketPath(), "rw-rw----"); // owner and group (0660)
            MetricsHttpServer http = MetricsHttpServer.start(config.metricsAddress(), registry, metrics);
            LOG.info("telemetry agent: reports on {}, metrics on http://{}/metrics, max {} series",
                    config.socketPath(), NetUtil.toSocketAddressString(http.address()),
                    config.maxSeries());
            return new TelemetryAgent(config, metrics, captures, self, boss, workers, executor, server, accessLog, http);
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.shutdownNow();
            }
            shutdown(boss, workers, executor);
            UnixSocketFile.remove(config.socketPath());
            if (accessLog != null) {
                accessLog.close();
            }
            throw e instanceof IOException io ? io
                    : new IOException("cannot start the telemetry agent on " + config.socketPath() + ": "
                            + e.getMessage(), e);
        }
    }

    private static AccessLog openAccessLog(AgentConfig config, AgentSelfMetrics self) throws IOException {
        if (config.accessLog() == null) {
            return null;
        }
        if ("-".equals(config.accessLog())) {
            return AccessLog.toStdout(config.accessLogLinesPerSecond(), self);
        }
        try {
            return AccessLog.toFile(Path.of(config.accessLog()), config.accessLogLinesPerSecond(), self);
        } catch (IOException e) {
            throw new IOException("cannot open access log " + config.accessLog() + ": " + e.getMessage(), e);
        }
    }

    private static int ownUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException | UnsupportedOperationException e) {
            return 0;
        }
    }

    /** Where {@code /metrics} is served (the real port when configured with port 0). */
    public InetSocketAddress metricsAddress() {
        return http.address();
    }

    public Path socketPath() {
        return config.socketPath();
    }

    /** The Istio aggregation, for tests and {@code /top}. */
    public IstioMetrics metrics() {
        return metrics;
    }

    /** The node's capture states and failures, as reported by the proxies. */
    public CaptureMetrics captures() {
        return captures;
    }

    /** The agent's own counters. */
    public AgentSelfMetrics selfMetrics() {
        return self;
    }

    /** Stops accepting, waits briefly for open streams, and removes the socket file. */
    @Override
    public void close() {
        stop("closed by its owner");
    }

    /** {@link #close()}, logging {@code telemetry agent stopped (why)}. */
    public synchronized void stop(String why) {
        if (stopped) {
            return;
        }
        stopped = true;
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
        http.close();
        shutdown(boss, workers, executor);
        UnixSocketFile.remove(config.socketPath());
        if (accessLog != null) {
            try {
                accessLog.close();
            } catch (IOException e) {
                LOG.warn("closing the access log failed", e);
            }
        }
        LOG.info("telemetry agent stopped ({})", why);
    }

    private static void shutdown(EventLoopGroup boss, EventLoopGroup workers, ExecutorService executor) {
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        executor.shutdownNow();
    }
}
