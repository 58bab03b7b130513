package io.nodemesh.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code nodemesh config-dump}: everything the node proxy runs on, as JSON. */
@Command(name = "config-dump", mixinStandardHelpOptions = true,
        description = {
                "Print the config the node proxy runs on, as JSON.",
                "Its source, its start-time settings and the snapshot in force: proxy settings, namespaces, pods, "
                        + "services and policies."})
public final class ConfigDumpCommand implements Callable<Integer> {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    @Option(names = "--admin", paramLabel = "unix:PATH|HOST:PORT", converter = AdminAddressConverter.class,
            description = "The proxy's admin API (default: " + AdminAddress.DEFAULT_DESCRIPTION + ").")
    AdminAddress admin = AdminAddress.byDefault();

    @Option(names = "-o", paramLabel = "json", description = "Output: json, the only one (as the other commands take it).")
    String output = OutputFormat.JSON;

    @Override
    public Integer call() {
        return run(spec.commandLine().getOut(), spec.commandLine().getErr());
    }

    /** Runs the command with its options set, without picocli ({@link DebugCli}'s fast path too). */
    int run(PrintWriter out, PrintWriter err) {
        if (!OutputFormat.JSON.equals(output)) {
            err.println("nodemesh config-dump: -o: '" + output + "' is not json (the config is printed as JSON only)");
            return 2;
        }
        try {
            OutputFormat.printJson(out, AdminClient.fetch(admin, "/config_dump"));
            return 0;
        } catch (AdminClient.Unreachable e) {
            err.println("nodemesh config-dump: " + e.getMessage());
            return 1;
        }
    }
}
