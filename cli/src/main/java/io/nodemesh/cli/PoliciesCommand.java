package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code nodemesh policies}: what governs connections into this node's workloads, and why. */
@Command(name = "policies", mixinStandardHelpOptions = true,
        description = {
                "Show what governs connections into this node's workloads.",
                "Per captured pod: its namespace's peer authentication, the authorization policies that select it "
                        + "and, in one sentence, what they let in."})
public final class PoliciesCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--admin", paramLabel = "unix:PATH|HOST:PORT", converter = AdminAddressConverter.class,
            description = "The proxy's admin API (default: " + AdminAddress.DEFAULT_DESCRIPTION + ").")
    AdminAddress admin = AdminAddress.byDefault();

    @Option(names = "--workload", paramLabel = "NAMESPACE/POD",
            description = "Only this workload (any pod the proxy knows, also another node's).")
    String workload;

    @Option(names = "-o", paramLabel = "table|json", description = OutputFormat.DESCRIPTION)
    String output = OutputFormat.TABLE;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String target = "/policies" + (workload == null ? ""
                : "?workload=" + URLEncoder.encode(workload, StandardCharsets.UTF_8));
        AdminClient.Answer got = AdminClient.get(admin, target, output, "policies", out, err);
        if (got.table() == null) {
            return got.exit();
        }
        JsonNode answer = got.table();
        TextTable table = new TextTable("WORKLOAD", "PEER AUTH", "POLICIES", "EFFECT");
        for (JsonNode w : answer.path("workloads")) {
            StringBuilder names = new StringBuilder();
            for (JsonNode p : w.path("policies")) {
                names.append(names.isEmpty() ? "" : ",").append(p.path("name").asText()).append('(')
                        .append(p.path("action").asText()).append(')');
            }
            table.row(w.path("workload").asText(), w.path("peerAuthentication").asText(),
                    names.isEmpty() ? "-" : names, w.path("effect").asText());
        }
        table.print(out);
        out.flush();
        return 0;
    }
}
