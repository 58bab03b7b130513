package io.nodemesh.cli;

import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.util.List;

/**
 * The workload the debugging commands' AOT caches ({@code cli/target/nodemesh-cli-COMMAND.aot}) are trained on when the
 * jar is built: one command through {@link DebugCli}, as {@code bin/nodemesh} starts it, against the proxy admin server
 * and telemetry agent the build started ({@code CliAotCacheBuilder} in the tests, run by cli/pom.xml). Not for operators.
 */
public final class DebugCliTraining {

    /** The debugging commands, each trained into a cache of its own. */
    public static final List<String> COMMANDS = List.of("status", "connections", "top", "workloads", "services",
            "config-dump");

    private DebugCliTraining() {
    }

    /**
     * {@code COMMAND ADMIN_HOST:PORT unix:ADMIN_SOCKET AGENT_HOST:PORT}: runs the debugging command COMMAND twice, the
     * table over TCP, then {@code -o json} over the admin Unix socket (both ways an operator runs it); exits 1 if a run
     * failed. One JVM, one cache per command: a cache's classes are all loaded at start, so a cache for all of them made
     * {@code status} load {@code top}'s too.
     */
    public static void main(String[] args) {
        if (args.length != 4 || !COMMANDS.contains(args[0])) {
            System.err.println("usage: DebugCliTraining " + String.join("|", COMMANDS)
                    + " ADMIN_HOST:PORT unix:ADMIN_SOCKET AGENT_HOST:PORT");
            System.exit(2);
        }
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, System.out.charset()));
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, System.err.charset()), true);
        List<String[]> calls = switch (args[0]) {
            case "connections" -> List.of(new String[] {"connections", "--admin", args[1], "-n", "5"},
                    new String[] {"connections", "--admin", args[2], "-n", "5", "-o", "json"});
            case "top" -> List.of(new String[] {"top", "--metrics-address", args[3], "-n", "5"},
                    new String[] {"top", "--metrics-address", args[3], "-n", "5", "-o", "json"});
            case "config-dump" -> List.of(new String[] {"config-dump", "--admin", args[1]},
                    new String[] {"config-dump", "--admin", args[2], "-o", "json"});
            default -> List.of(new String[] {args[0], "--admin", args[1]},
                    new String[] {args[0], "--admin", args[2], "-o", "json"});
        };
        int failed = 0;
        for (String[] call : calls) {
            int status = DebugCli.run(call, out, err);
            out.flush();
            if (status != 0) {
                err.println("DebugCliTraining: nodemesh " + String.join(" ", call) + " exited with " + status);
                failed++;
            }
        }
        System.exit(failed == 0 ? 0 : 1);
    }
}
