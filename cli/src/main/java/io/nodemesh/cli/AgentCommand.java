package io.nodemesh.cli;

import io.nodemesh.linux.Scheduling;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code nodemesh agent}: runs the node's telemetry agent until SIGTERM or SIGINT. */
@Command(name = "agent", mixinStandardHelpOptions = true,
        description = {
                "Run the telemetry agent: the proxy's reports as Istio metrics.",
                "Receives the proxy's reports on a Unix socket and serves Istio-style metrics on /metrics "
                        + "(and /top for 'nodemesh top'), until SIGTERM/SIGINT."})
public final class AgentCommand implements Callable<Integer> {

    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--socket", paramLabel = "PATH", description = "Unix socket for reports (default: ${DEFAULT-VALUE}).")
    private Path socket = AgentConfig.DEFAULT_SOCKET;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "Where /metrics, /healthz and /top are served (default: 0.0.0.0:15020).")
    private InetSocketAddress metricsAddress = AgentConfig.DEFAULT_METRICS_ADDRESS;

    @Option(names = "--access-log", paramLabel = "FILE|-", description = "Write one JSON line per connection to FILE, or '-' for stdout.")
    private String accessLog;

    @Option(names = "--access-log-rate", paramLabel = "LINES", description = "Most access log lines per second (default: ${DEFAULT-VALUE}).")
    private double accessLogRate = 100;

    @Option(names = "--max-series", paramLabel = "N", description = "Most Istio label sets before new ones fold into 'overflow' (default: ${DEFAULT-VALUE}).")
    private int maxSeries = 10_000;

    @Option(names = "--nice-increment", paramLabel = "N", description = "Run every agent thread N nice levels below the "
            + "priority it was started with (0-19, default: ${DEFAULT-VALUE}), so the proxy's event loops on the same cores "
            + "are not preempted by a batch being aggregated; 0 keeps it.")
    private int niceIncrement = 10;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (niceIncrement < 0 || niceIncrement > Scheduling.MAX_NICE) {
            err.println("nodemesh agent: --nice-increment must be 0.." + Scheduling.MAX_NICE + ", got " + niceIncrement);
            return 2;
        }
        AgentConfig config;
        try {
            config = AgentConfig.builder()
                    .socketPath(socket)
                    .metricsAddress(metricsAddress)
                    .accessLog(accessLog)
                    .accessLogLinesPerSecond(accessLogRate)
                    .maxSeries(maxSeries)
                    .build();
        } catch (IllegalArgumentException e) {
            err.println("nodemesh agent: " + e.getMessage());
            return 2;
        }
        if (niceIncrement > 0) {
            // Before the agent starts its threads: they inherit the lowered priority; the JVM's own are lowered here.
            try {
                Scheduling.lowerProcess(niceIncrement);
            } catch (IOException | RuntimeException | LinkageError e) {
                err.println("nodemesh agent: keeps its priority (could not lower it: " + e + ")");
            }
        }
        TelemetryAgent agent;
        try {
            agent = TelemetryAgent.start(config);
        } catch (IOException e) {
            err.println("nodemesh agent: " + e.getMessage());
            return 1;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        // SIGTERM and SIGINT run shutdown hooks: close cleanly (removes the socket file), then let main return.
        Thread hook = new Thread(() -> {
            agent.stop("shutdown signal: SIGTERM, SIGINT or SIGHUP");
            stopped.countDown();
        }, "nodemesh-agent-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("nodemesh agent: reports on " + config.socketPath() + ", metrics on http://"
                + HostPort.format(agent.metricsAddress()) + "/metrics");
        out.flush();
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Runtime.getRuntime().removeShutdownHook(hook);
            agent.stop("interrupted");
        }
        return 0;
    }
}
