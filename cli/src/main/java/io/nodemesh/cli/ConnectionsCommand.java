package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code nodemesh connections}: the proxy's open connections and the most recent closed ones, with original
 * destinations, how each crosses between the proxies and the identity of its far end.
 */
@Command(name = "connections", mixinStandardHelpOptions = true,
        description = {
                "List the node proxy's open and recently closed connections.",
                "Each with its pod, direction, source, original destination, path (a tunnel stream, with the "
                        + "tunnel's far end, or plaintext), security (mutual_tls or none), peer (the far end's SPIFFE "
                        + "id where proved: the destination's outbound, the source's inbound) and bytes out and back; "
                        + "the closed ones, newest first, with duration and outcome."})
public final class ConnectionsCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--admin", paramLabel = "unix:PATH|HOST:PORT", converter = AdminAddressConverter.class,
            description = "The proxy's admin API (default: " + AdminAddress.DEFAULT_DESCRIPTION + ").")
    AdminAddress admin = AdminAddress.byDefault();

    @Option(names = "--pod", paramLabel = "NS/NAME", description = "Only this pod's connections.")
    String pod;

    @Option(names = "-n", paramLabel = "N", description = "At most N recently closed connections (default: ${DEFAULT-VALUE}).")
    int recent = 20;

    @Option(names = "-o", paramLabel = "table|json", description = OutputFormat.DESCRIPTION)
    String output = OutputFormat.TABLE;

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /** Runs the command with its options set, without picocli ({@link DebugCli}'s fast path too). */
    int run(PrintWriter out, PrintWriter err) {
        if (recent < 0) {
            err.println("nodemesh connections: -n must not be negative");
            return 2;
        }
        String target = "/connections?recent=" + recent
                + (pod == null ? "" : "&pod=" + URLEncoder.encode(pod, StandardCharsets.UTF_8));
        AdminClient.Answer got = AdminClient.get(admin, target, output, "connections", out, err);
        if (got.table() == null) {
            return got.exit();
        }
        JsonNode connections = got.table();
        TextTable open = new TextTable("POD", "DIRECTION", "SOURCE", "ORIGINAL DESTINATION", "PATH", "SECURITY",
                "PEER", Vocabulary.BYTES_OUT, Vocabulary.BYTES_BACK, "OPENED");
        int openCount = 0;
        for (JsonNode c : connections.path("open")) {
            open.row(c.path("pod").asText(), c.path("direction").asText(), c.path("source").asText(),
                    c.path("destination").asText(), path(c), c.path("security").asText(null), peer(c),
                    Vocabulary.bytes(c.path("bytesFromSource").asLong()),
                    Vocabulary.bytes(c.path("bytesToSource").asLong()), c.path("openedAt").asText());
            openCount++;
        }
        out.println("open (" + openCount + ")");
        open.print(out);
        out.println();
        TextTable closed = new TextTable("POD", "DIRECTION", "SOURCE", "ORIGINAL DESTINATION", "PATH", "SECURITY",
                "PEER", Vocabulary.BYTES_OUT, Vocabulary.BYTES_BACK, "DURATION", "OUTCOME");
        int shown = 0;
        for (JsonNode c : connections.path("recent")) {
            closed.row(c.path("pod").asText(), c.path("direction").asText(), c.path("source").asText(),
                    c.path("destination").asText(), path(c), c.path("security").asText(null), peer(c),
                    Vocabulary.bytes(c.path("bytesFromSource").asLong()),
                    Vocabulary.bytes(c.path("bytesToSource").asLong()), c.path("durationMillis").asLong() + " ms",
                    outcome(c));
            shown++;
        }
        out.println("recently closed, newest first (" + shown + ")");
        closed.print(out);
        out.flush();
        return 0;
    }

    /** {@code RESET}, or {@code RESET (upstream)} when one side's failure ended the connection. */
    private static String outcome(JsonNode connection) {
        String endedBy = connection.path("endedBy").asText(null);
        return connection.path("outcome").asText() + (endedBy == null ? "" : " (" + endedBy + ")");
    }

    /** {@code tunnel 10.0.0.5:15008} (the tunnel connection's far end), {@code plaintext}, or null: not chosen. */
    private static String path(JsonNode connection) {
        String path = connection.path("path").asText(null);
        String tunnel = connection.path("tunnel").asText(null);
        return path == null || tunnel == null ? path : path + " " + tunnel;
    }

    /** The far end's identity, where known: the destination's of an outbound connection, the source's of an inbound. */
    private static String peer(JsonNode connection) {
        boolean outbound = "outbound".equals(connection.path("direction").asText());
        return connection.path(outbound ? "destinationPrincipal" : "sourcePrincipal").asText(null);
    }
}
