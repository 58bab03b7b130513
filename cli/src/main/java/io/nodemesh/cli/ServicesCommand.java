package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code nodemesh services}: the services the node proxy balances and how many of their endpoints are ready. */
@Command(name = "services", mixinStandardHelpOptions = true,
        description = {
                "List the services the node proxy knows.",
                "Namespace, name, service addresses and ready/total endpoints (a connection to a service address "
                        + "goes to one of its ready endpoints)."})
public final class ServicesCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--admin", paramLabel = "unix:PATH|HOST:PORT", converter = AdminAddressConverter.class,
            description = "The proxy's admin API (default: " + AdminAddress.DEFAULT_DESCRIPTION + ").")
    AdminAddress admin = AdminAddress.byDefault();

    @Option(names = "-n", paramLabel = "NAMESPACE", description = "Only this namespace's services.")
    String namespace;

    @Option(names = "-o", paramLabel = "table|json", description = OutputFormat.DESCRIPTION)
    String output = OutputFormat.TABLE;

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /** Runs the command with its options set, without picocli ({@link DebugCli}'s fast path too). */
    int run(PrintWriter out, PrintWriter err) {
        String target = "/services" + (namespace == null ? ""
                : "?namespace=" + URLEncoder.encode(namespace, StandardCharsets.UTF_8));
        AdminClient.Answer got = AdminClient.get(admin, target, output, "services", out, err);
        if (got.table() == null) {
            return got.exit();
        }
        JsonNode services = got.table();
        TextTable table = new TextTable("NAMESPACE", "NAME", "VIP", "ENDPOINTS");
        for (JsonNode s : services.path("services")) {
            StringBuilder vips = new StringBuilder();
            s.path("vips").forEach(ip -> vips.append(vips.isEmpty() ? "" : ",").append(ip.asText()));
            table.row(s.path("namespace").asText(), s.path("name").asText(), vips.isEmpty() ? "-" : vips,
                    s.path("readyEndpoints").asLong() + "/" + s.path("totalEndpoints").asLong());
        }
        table.print(out);
        out.flush();
        return 0;
    }
}
