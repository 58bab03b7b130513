package io.nodemesh.cli;

import io.nodemesh.linux.Scheduling;
import io.nodemesh.telemetry.agent.AgentConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * The telemetry agent's settings, the same on {@code nodemesh agent} (its own process) and on {@code nodemesh proxy
 * --agent-in-process} (hosted in the proxy's process on its own lower-priority threads): a picocli mixin.
 */
final class AgentOptions {

    /** The options' names, for a command that takes them only in some mode. */
    static final List<String> NAMES = List.of("--metrics-address", "--access-log", "--access-log-rate", "--max-series",
            "--nice-increment");

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "Where the agent serves /metrics, /healthz and /top (default: 0.0.0.0:15020).")
    InetSocketAddress metricsAddress = AgentConfig.DEFAULT_METRICS_ADDRESS;

    @Option(names = "--access-log", paramLabel = "FILE|-",
            description = "The agent writes one JSON line per connection to FILE, or '-' for stdout.")
    String accessLog;

    @Option(names = "--access-log-rate", paramLabel = "LINES",
            description = "Most access log lines per second (default: ${DEFAULT-VALUE}).")
    double accessLogRate = 100;

    @Option(names = "--max-series", paramLabel = "N",
            description = "Most Istio label sets before new ones fold into 'overflow' (default: ${DEFAULT-VALUE}).")
    int maxSeries = 10_000;

    @Option(names = "--nice-increment", paramLabel = "N", description = "Run every agent thread N nice levels below the "
            + "priority it was started with (0-19, default: ${DEFAULT-VALUE}), so the proxy's event loops on the same cores "
            + "are not preempted by a batch being aggregated; 0 keeps it.")
    int niceIncrement = 10;

    /**
     * The agent's configuration, reports received on {@code socket}.
     *
     * @throws IllegalArgumentException naming the option or setting that is out of range
     */
    AgentConfig config(Path socket) {
        if (niceIncrement < 0 || niceIncrement > Scheduling.MAX_NICE) {
            throw new IllegalArgumentException("--nice-increment must be 0.." + Scheduling.MAX_NICE + ", got "
                    + niceIncrement);
        }
        return AgentConfig.builder()
                .socketPath(socket)
                .metricsAddress(metricsAddress)
                .accessLog(accessLog)
                .accessLogLinesPerSecond(accessLogRate)
                .maxSeries(maxSeries)
                .build();
    }

    /** Lowers the calling thread by {@link #niceIncrement}; threads it starts inherit that. A failure is a warning. */
    String lowerCurrentThread() {
        if (niceIncrement == 0) {
            return null;
        }
        try {
            Scheduling.lowerCurrentThread(niceIncrement);
            return null;
        } catch (IOException | RuntimeException | LinkageError e) {
            return "keeps its priority (could not lower it: " + e + ")";
        }
    }
}
