package io.nodemesh.cli;

import io.nodemesh.linux.Scheduling;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.telemetry.agent.AgentConfig;
import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
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

    @Mixin
    private AgentOptions options = new AgentOptions();

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        AgentConfig config;
        try {
            config = options.config(socket);
        } catch (IllegalArgumentException e) {
            err.println("nodemesh agent: " + e.getMessage());
            return 2;
        }
        if (options.niceIncrement > 0) {
            // Before the agent starts its threads: they inherit the lowered priority; the JVM's own are lowered here.
            try {
                Scheduling.lowerProcess(options.niceIncrement);
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
