package io.nodemesh.bench.e2e;

import io.nodemesh.bench.cli.BenchCommand;
import picocli.CommandLine;

/**
 * The end-to-end benchmark from jmh-bench's jar, with charts: the same options as
 * {@code nodemesh bench} (the harness lives in node-proxy's {@code io.nodemesh.bench.harness} so
 * that the CLI reaches it); this jar adds the XChart renderer. Run as root from the repository root:
 * {@code java -cp jmh-bench/target/benchmarks.jar io.nodemesh.bench.e2e.EndToEndBench --quick}.
 */
public final class EndToEndBench {

    private EndToEndBench() {
    }

    /** Runs the benchmark with the given {@code nodemesh bench} options. */
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        String self = "java -cp jmh-bench/target/benchmarks.jar " + EndToEndBench.class.getName();
        System.exit(new CommandLine(new BenchCommand(self)).setCommandName(self).execute(args));
    }
}
