package io.nodemesh.bench.harness;

import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The machine and tool versions a run used, for the report.
 *
 * @param cpus processors available to this process ({@code nproc})
 * @param kernel {@code uname -r}
 * @param cpuModel the first {@code model name} of {@code /proc/cpuinfo}
 * @param java the JVM that ran the harness (and the proxy and server it started)
 * @param haproxy first line of {@code haproxy -v}
 * @param wrk first line of {@code wrk -v}
 */
public record Machine(int cpus, String kernel, String cpuModel, String java, String haproxy, String wrk) {

    /** Describes this machine. */
    public static Machine current() {
        return new Machine(Runtime.getRuntime().availableProcessors(),
                firstLine(Commands.run("uname", "-r")),
                readCpuModel(),
                System.getProperty("java.vm.vendor") + " " + System.getProperty("java.vm.name") + " " + Runtime.version(),
                firstLine(Commands.run("haproxy", "-v")),
                firstLine(Commands.run("wrk", "-v")));
    }

    private static String readCpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException e) {
            return "unknown (" + e.getMessage() + ")";
        }
        return "unknown";
    }

    // wrk -v prints its version and then exits non-zero with its usage: take the first line anyway.
    private static String firstLine(ExecResult r) {
        String text = r.stdout().isBlank() ? r.stderr() : r.stdout();
        String line = text.strip().lines().findFirst().orElse("");
        return line.isEmpty() ? "unavailable (" + String.join(" ", r.command()) + " exited " + r.exitCode() + ")" : line;
    }
}
