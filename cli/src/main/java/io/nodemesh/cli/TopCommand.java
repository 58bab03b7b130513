package io.nodemesh.cli;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.telemetry.metrics.PairTotals;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine;

/** {@code nodemesh top}: the busiest source → destination pairs on this node, from the agent's {@code /top}. */
@Command(name = "top", mixinStandardHelpOptions = true,
        description = {
                "Show the busiest source -> destination pairs on this node.",
                "Per pair, from the telemetry agent: bytes out and back, connections and errors."})
public final class TopCommand implements Callable<Integer> {

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    @Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--metrics-address", paramLabel = "HOST:PORT", converter = HostPortConverter.class,
            description = "The agent's HTTP address (default: 127.0.0.1:15020).")
    InetSocketAddress metricsAddress = new InetSocketAddress("127.0.0.1", 15020);

    @Option(names = "-n", paramLabel = "N", description = "How many pairs (default: ${DEFAULT-VALUE}).")
    int n = 10;

    @Option(names = "-o", paramLabel = "table|json", description = OutputFormat.DESCRIPTION)
    String output = OutputFormat.TABLE;

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /** Runs the command with its options set, without picocli ({@link DebugCli}'s fast path too). */
    int run(PrintWriter out, PrintWriter err) {
        if (n < 1 || n > 1000) {
            err.println("nodemesh top: -n must be from 1 to 1000, got " + n);
            return 2;
        }
        if (!OutputFormat.check(output, "top", err)) {
            return 2;
        }
        URI uri = URI.create("http://" + HostPort.format(metricsAddress) + "/top?n=" + n);
        HttpGet.Response response;
        try {
            response = HttpGet.get(uri);
        } catch (ConnectException e) {
            err.println("nodemesh top: cannot reach the telemetry agent at " + uri + " (connection refused; is "
                    + "'nodemesh agent' running there?)");
            return 1;
        } catch (IOException e) {
            err.println("nodemesh top: cannot read " + uri + ": " + e);
            return 1;
        }
        if (response.status() != 200) {
            err.println("nodemesh top: " + uri + " answered " + response.status() + ": " + response.body().strip());
            return 1;
        }
        if (OutputFormat.JSON.equals(output)) {
            OutputFormat.printJson(out, response.body());
            return 0;
        }
        List<PairTotals> pairs = new ArrayList<>();
        try {
            JsonNode root = JSON.readTree(response.body());
            for (JsonNode pair : root.path("pairs")) {
                pairs.add(JSON.treeToValue(pair, PairTotals.class));
            }
        } catch (IOException e) {
            err.println("nodemesh top: " + uri + " did not return the expected JSON: " + e.getMessage());
            return 1;
        }
        print(out, pairs);
        return 0;
    }

    private static void print(PrintWriter out, List<PairTotals> pairs) {
        if (pairs.isEmpty()) {
            out.println("no connections reported yet");
            out.flush();
            return;
        }
        TextTable table = new TextTable("SOURCE", "DESTINATION", "SERVICE", Vocabulary.BYTES_OUT, Vocabulary.BYTES_BACK,
                "CONNECTIONS", "ERRORS").numbersFrom(3);
        for (PairTotals p : pairs) {
            table.row(workload(p.sourceWorkload(), p.sourceNamespace()),
                    workload(p.destinationWorkload(), p.destinationNamespace()), p.destinationService(),
                    Vocabulary.bytes(p.bytesSent()), Vocabulary.bytes(p.bytesReceived()), p.connections(), p.errors());
        }
        table.print(out);
        out.flush();
    }

    /** {@code name.namespace}, or the agent's {@code unknown} once where the workload is not known. */
    private static String workload(String name, String namespace) {
        return "unknown".equals(name) && "unknown".equals(namespace) ? "unknown" : name + "." + namespace;
    }
}
