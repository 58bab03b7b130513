package io.nodemesh.cli;

import java.io.OutputStreamWriter;
import java.io.PrintWriter;

/**
 * The workload the debugging commands' AOT cache ({@code cli/target/nodemesh-cli.aot}) is trained on when the jar is
 * built: each command through {@link DebugCli}, as {@code bin/nodemesh} starts it, against the proxy admin server and
 * telemetry agent the build started ({@code CliAotCacheBuilder} in the tests, run by cli/pom.xml). Not for operators.
 */
public final class DebugCliTraining {

    private DebugCliTraining() {
    }

    /** {@code ADMIN_HOST:PORT AGENT_HOST:PORT}: runs status, connections and top once each; exits 1 if one failed. */
    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: DebugCliTraining ADMIN_HOST:PORT AGENT_HOST:PORT");
            System.exit(2);
        }
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, System.out.charset()));
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, System.err.charset()), true);
        String[][] calls = {
            {"status", "--admin", args[0]},
            {"connections", "--admin", args[0], "-n", "5"},
            {"top", "--metrics-address", args[1], "-n", "5"},
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
