package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code nodemesh status}: what the node proxy captures right now, pod by pod, from its admin API. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {
                "Show the node proxy's pods, their connections and its config.",
                "Per pod: state (listening, failed, draining), connections by outcome, bytes out and back, the "
                        + "last error; the config file it runs on and the last rejected change, if any."})
public final class StatusCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--admin", paramLabel = "unix:PATH|HOST:PORT", converter = AdminAddressConverter.class,
            description = "The proxy's admin API (default: " + AdminAddress.DEFAULT_DESCRIPTION + ").")
    AdminAddress admin = AdminAddress.byDefault();

    @Option(names = "-o", paramLabel = "table|json", description = OutputFormat.DESCRIPTION)
    String output = OutputFormat.TABLE;

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /** Runs the command with its options set, without picocli ({@link DebugCli}'s fast path too). */
    int run(PrintWriter out, PrintWriter err) {
        AdminClient.Answer got = AdminClient.get(admin, "/stats", output, "status", out, err);
        if (got.table() == null) {
            return got.exit();
        }
        JsonNode stats = got.table();
        JsonNode config = stats.path("config");
        out.printf("proxy     transport %s, config %s (loaded %s)%n", stats.path("transport").asText(),
                config.path("file").asText(), config.path("loadedAt").asText());
        if (!config.path("lastError").isNull() && !config.path("lastError").asText().isEmpty()) {
            out.println("          last change REJECTED, still running the previous config: "
                    + config.path("lastError").asText());
        }
        for (JsonNode detail : config.path("details")) {
            out.println("          " + detail.asText());
        }
        JsonNode keeper = stats.path("keeper");
        if (keeper.isObject()) {
            out.println(keeper.path("holding").asBoolean()
                    ? "keeper    " + keeper.path("socket").asText() + ": holds the listeners of "
                            + keeper.path("pods").asInt() + " pod(s) through a restart"
                    : "keeper    " + keeper.path("socket").asText() + ": NOT holding ("
                            + keeper.path("problem").asText() + "): a restart refuses the pods' new connections "
                            + "until the proxy listens again");
        }
        JsonNode totals = stats.path("totals");
        out.printf("totals    outbound %s   inbound %s   not redirected %d%n", summary(totals.path("outbound")),
                summary(totals.path("inbound")), totals.path("notRedirected").asLong());
        out.println();
        TextTable table = new TextTable("POD", "STATE", "IPS", "OUTBOUND", "INBOUND", "LAST ERROR");
        for (JsonNode pod : stats.path("pods")) {
            StringBuilder ips = new StringBuilder();
            pod.path("ips").forEach(ip -> ips.append(ips.isEmpty() ? "" : ",").append(ip.asText()));
            table.row(pod.path("pod").asText(), pod.path("state").asText(), ips,
                    summary(pod.path("outbound")), summary(pod.path("inbound")),
                    pod.path("lastError").isNull() ? "-" : pod.path("lastError").asText());
        }
        table.print(out);
        out.flush();
        return 0;
    }

    /** "3 open, 120 closed (OK 118, REFUSED 2), 1.2 MiB out, 3.4 MiB back" for one direction's counters. */
    static String summary(JsonNode d) {
        Map<String, Long> outcomes = new LinkedHashMap<>();
        d.path("closedByOutcome").properties().forEach(e -> outcomes.put(e.getKey(), e.getValue().asLong()));
        return d.path("active").asLong() + " open, " + d.path("closed").asLong() + " closed"
                + (outcomes.isEmpty() ? "" : " (" + Vocabulary.outcomes(outcomes) + ")")
                + ", " + Vocabulary.bytes(d.path("bytesFromSource").asLong()) + " out, "
                + Vocabulary.bytes(d.path("bytesToSource").asLong()) + " back";
    }
}
