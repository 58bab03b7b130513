package io.nodemesh.cli;

import java.io.OutputStreamWriter;
import java.io.PrintWriter;

/**
 * The workload the debugging commands' AOT caches ({@code cli/target/nodemesh-cli-COMMAND.aot}) are trained on when the
 * jar is built: one command through {@link DebugCli}, as {@code bin/nodemesh} starts it, against the proxy admin server
 * and telemetry agent the build started ({@code CliAotCacheBuilder} in the tests, run by cli/pom.xml). Not for operators.
 */
public final class DebugCliTraining {

    private DebugCliTraining() {
    }

    /**
     * {@code COMMAND ADMIN_HOST:PORT AGENT_HOST:PORT}: runs the debugging command COMMAND (status, connections or top)
     * twice against those servers; exits 1 if a run failed. One JVM, one cache per command: a cache's classes are all
     * loaded at start, so a cache for all three made {@code status} load {@code top}'s too.
     */
    public static void main(String[] args) {
        if (args.length != 3) {
            System.err.println("usage: DebugCliTraining status|connections|top ADMIN_HOST:PORT AGENT_HOST:PORT");
            System.exit(2);
        }
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, System.out.charset()));
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, System.err.charset()), true);
        String[] call = switch (args[0]) {
            case "status" -> new String[] {"status", "--admin", args[1]};
            case "connections" -> new String[] {"connections", "--admin", args[1], "-n", "5"};
            case "top" -> new String[] {"top", "--metrics-address", args[2], "-n", "5"};
            default -> throw new IllegalArgumentException("not a debugging command: " + args[0]);
        };
        int failed = 0;
        for (int i = 0; i < 2; i++) {
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
