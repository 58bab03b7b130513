package io.nodemesh.bench.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine;

/**
 * The benchmark commands, run from benchmarks.jar ({@code bin/nodemesh bench ...} and {@code bin/nodemesh bench-matrix ...}
 * land here): they measure the proxy from nodemesh.jar, which holds none of this code.
 */
@Command(name = "nodemesh",
        mixinStandardHelpOptions = true,
        description = "The nodemesh benchmarks (benchmarks.jar).",
        subcommands = {BenchCommand.class, MatrixCommand.class, CommandLine.HelpCommand.class})
public final class BenchCli implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /** Runs a benchmark command and exits with its status. */
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured picocli command line, for tests and for {@link #main}. */
    public static CommandLine commandLine() {
        return new CommandLine(new BenchCli()).setCaseInsensitiveEnumValuesAllowed(true);
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand: bench or bench-matrix");
    }
}
