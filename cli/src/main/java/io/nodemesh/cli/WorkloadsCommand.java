package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code nodemesh workloads}: the pods the node proxy knows and how each of this node's is captured. */
@Command(name = "workloads", mixinStandardHelpOptions = true,
        description = {
                "List the pods the node proxy knows, with their capture state.",
                "This node's pods and the others' (for routing): namespace, name, addresses, node, and on this node "
                        + "pending, captured, failed(reason) or released; '-' where this proxy does not capture."})
public final class WorkloadsCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--admin", paramLabel = "unix:PATH|HOST:PORT", converter = AdminAddressConverter.class,
            description = "The proxy's admin API (default: " + AdminAddress.DEFAULT_DESCRIPTION + ").")
    AdminAddress admin = AdminAddress.byDefault();

    @Option(names = "-n", paramLabel = "NAMESPACE", description = "Only this namespace's pods.")
    String namespace;

    @Option(names = "-o", paramLabel = "table|json", description = OutputFormat.DESCRIPTION)
    String output = OutputFormat.TABLE;

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /** Runs the command with its options set, without picocli ({@link DebugCli}'s fast path too). */
    int run(PrintWriter out, PrintWriter err) {
        String target = "/workloads" + (namespace == null ? ""
                : "?namespace=" + URLEncoder.encode(namespace, StandardCharsets.UTF_8));
        AdminClient.Answer got = AdminClient.get(admin, target, output, "workloads", out, err);
        if (got.table() == null) {
            return got.exit();
        }
        JsonNode workloads = got.table();
        TextTable table = new TextTable("NAMESPACE", "POD", "ADDRESS", "NODE", "CAPTURE");
        for (JsonNode w : workloads.path("workloads")) {
            StringBuilder ips = new StringBuilder();
            w.path("addresses").forEach(ip -> ips.append(ips.isEmpty() ? "" : ",").append(ip.asText()));
            table.row(w.path("namespace").asText(), w.path("pod").asText(), ips.isEmpty() ? "-" : ips,
                    w.path("node").asText().isEmpty() ? "-" : w.path("node").asText(),
                    w.path("capture").isNull() ? "-" : w.path("capture").asText());
        }
        table.print(out);
        out.flush();
        return 0;
    }
}
