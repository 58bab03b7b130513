package io.nodemesh.bench.e2e;

import io.nodemesh.bench.cli.MatrixCommand;
import picocli.CommandLine;

/**
 * Issue 7's scenario matrix from jmh-bench's jar, with charts (this jar adds the XChart renderer):
 * the same options as {@code nodemesh bench-matrix}. Run as root from the repository root:
 * {@code java -cp jmh-bench/target/benchmarks.jar io.nodemesh.bench.e2e.MatrixBench --quick}.
 */
public final class MatrixBench {

    private MatrixBench() {
    }

    /** Runs the matrix with the given {@code nodemesh bench-matrix} options. */
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        String self = "java -cp jmh-bench/target/benchmarks.jar " + MatrixBench.class.getName();
        System.exit(new CommandLine(new MatrixCommand(self)).setCommandName(self).execute(args));
    }
}
