package io.nodemesh.bench.growth;

import picocli.CommandLine;

/**
 * The growth benchmark from jmh-bench's jar, which also carries the XChart renderer:
 * {@code java --enable-native-access=ALL-UNNAMED -cp jmh-bench/target/benchmarks.jar io.nodemesh.bench.growth.GrowthBench --quick}.
 */
public final class GrowthBench {

    private GrowthBench() {
    }

    /** Runs the benchmark with the given {@code nodemesh bench growth} options. */
    public static void main(String[] args) {
        System.setProperty("java.awt.headless", "true");
        String self = "java -cp jmh-bench/target/benchmarks.jar " + GrowthBench.class.getName();
        System.exit(new CommandLine(new GrowthCommand(self)).setCommandName(self).execute(args));
    }
}
