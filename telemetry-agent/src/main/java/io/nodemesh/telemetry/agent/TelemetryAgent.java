package io.nodemesh.telemetry.agent;

import io.netty.util.NetUtil;
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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's telemetry agent: receives report batches on a Unix socket (gRPC), aggregates them
 * into Istio-named Prometheus series, writes an access log and serves {@code /metrics}.
 * Start with {@link #start(AgentConfig)}; {@link #close()} stops it and removes the socket file.
 * {@link #startHosted(AgentConfig)} starts one inside a proxy's process, which hands its batches to {@link #intake()}
 * directly: no socket, no gRPC.
 */
public final class TelemetryAgent implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(TelemetryAgent.class);

    private final AgentConfig config;
    private final IstioMetrics metrics;
    private final CaptureMetrics captures;
    private final AgentSelfMetrics self;
    private final ReportIntake intake;
    private final GrpcReportServer server; // null when hosted
    private final AccessLog accessLog;
    private final MetricsHttpServer http;
    private boolean stopped;

    private TelemetryAgent(AgentConfig config, IstioMetrics metrics, CaptureMetrics captures, AgentSelfMetrics self,
            ReportIntake intake, GrpcReportServer server, AccessLog accessLog, MetricsHttpServer http) {
        this.config = config;
        this.metrics = metrics;
        this.captures = captures;
        this.self = self;
        this.intake = intake;
        this.server = server;
        this.accessLog = accessLog;
        this.http = http;
    }

    /** Binds the report socket and the HTTP server; fails with a message naming what could not be set up. */
    public static TelemetryAgent start(AgentConfig config) throws IOException {
        return start(config, true);
    }

    /**
     * An agent for a proxy that hosts it: the HTTP server, the aggregation and the access log, and no report socket;
     * the proxy hands its batches to {@link #intake()}.
     */
    public static TelemetryAgent startHosted(AgentConfig config) throws IOException {
        return start(config, false);
    }

    private static TelemetryAgent start(AgentConfig config, boolean socket) throws IOException {
        PrometheusRegistry registry = new PrometheusRegistry();
        IstioMetrics metrics = new IstioMetrics(registry, config.maxSeries());
        AgentSelfMetrics self = new AgentSelfMetrics(registry, metrics::seriesCount);
        CaptureMetrics captures = new CaptureMetrics(registry);
        AccessLog accessLog = openAccessLog(config, self);
        ReportIntake intake = new ReportIntake(new BatchValidator(config.limits(), System::currentTimeMillis),
                metrics, captures, new TunnelMetrics(registry), self, accessLog, config.maxActiveStreams());
        GrpcReportServer server = null;
        try {
            if (socket) {
                Set<Integer> allowed = config.allowedPeerUids().isEmpty()
                        ? Set.copyOf(java.util.List.of(0, ownUid()))
                        : config.allowedPeerUids();
                server = GrpcReportServer.start(config, intake, new PeerCredentialsGate(allowed, self));
            }
            MetricsHttpServer http = MetricsHttpServer.start(config.metricsAddress(), registry, metrics);
            LOG.info("telemetry agent: reports {}, metrics on http://{}/metrics, max {} series",
                    socket ? "on " + config.socketPath() : "from this process",
                    NetUtil.toSocketAddressString(http.address()), config.maxSeries());
            return new TelemetryAgent(config, metrics, captures, self, intake, server, accessLog, http);
        } catch (IOException | RuntimeException e) {
            if (server != null) {
                server.stop();
            }
            if (accessLog != null) {
                accessLog.close();
            }
            throw e instanceof IOException io ? io : new IOException(e.getMessage(), e); // it names what failed
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

    /** Where the reports come in, or null when hosted (they are handed to {@link #intake()}). */
    public Path socketPath() {
        return server == null ? null : config.socketPath();
    }

    /** Where a hosting proxy hands its batches in. */
    public ReportIntake intake() {
        return intake;
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
        if (server != null) {
            server.stop();
        }
        http.close();
        if (accessLog != null) {
            try {
                accessLog.close();
            } catch (IOException e) {
                LOG.warn("closing the access log failed", e);
            }
        }
        LOG.info("telemetry agent stopped ({})", why);
    }
}
