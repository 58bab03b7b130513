package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code nodemesh certs}: the workload certificates the node proxy holds. */
@Command(name = "certs", mixinStandardHelpOptions = true,
        description = {
                "List the workload certificates the node proxy holds.",
                "One per service account with a captured pod on this node: identity, serial, validity, state "
                        + "(issuing, valid, expired), renewals and the last failure."})
public final class CertsCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--admin", paramLabel = "unix:PATH|HOST:PORT", converter = AdminAddressConverter.class,
            description = "The proxy's admin API (default: " + AdminAddress.DEFAULT_DESCRIPTION + ").")
    AdminAddress admin = AdminAddress.byDefault();

    @Option(names = "-o", paramLabel = "table|json", description = OutputFormat.DESCRIPTION)
    String output = OutputFormat.TABLE;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        AdminClient.Answer got = AdminClient.get(admin, "/certs", output, "certs", out, err);
        if (got.table() == null) {
            return got.exit();
        }
        JsonNode answer = got.table();
        if (answer.path("ca").isNull()) {
            out.println("no mesh CA configured (proxy.identity.caDir): no workload certificates, no mutual TLS");
            out.flush();
            return 0;
        }
        TextTable table = new TextTable("IDENTITY", "SERIAL", "NOT BEFORE", "NOT AFTER", "STATE", "RENEWALS",
                "LAST ERROR");
        for (JsonNode c : answer.path("certificates")) {
            table.row(c.path("identity").asText(), text(c.path("serial")), text(c.path("notBefore")),
                    text(c.path("notAfter")), c.path("state").asText(), c.path("renewals").asLong(),
                    text(c.path("lastError")));
        }
        table.print(out);
        out.flush();
        return 0;
    }

    private static String text(JsonNode value) {
        return value.isNull() || value.isMissingNode() ? "-" : value.asText();
    }
}
