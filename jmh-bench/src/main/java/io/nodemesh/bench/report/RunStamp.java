package io.nodemesh.bench.report;

import io.nodemesh.bench.harness.Machine;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * When, how and where a generated section was measured: the header lines every section of the report starts with.
 *
 * @param command the command line that reproduces the section
 * @param started start of the part
 * @param took how long the part ran
 * @param machine the machine (CPU, kernel, JVM)
 * @param loadBefore {@code /proc/loadavg}'s 1/5/15-minute figures at the start
 * @param loadAfter the same at the end
 */
public record RunStamp(String command, Instant started, Duration took, Machine machine, String loadBefore, String loadAfter) {

    /** The {@code Written by ...} paragraph and the machine and load lines. */
    public String header() {
        return "Written by `" + command + "` on " + started.truncatedTo(ChronoUnit.SECONDS).toString().replace('T', ' ')
                .replace("Z", " UTC") + " (took " + took.toSeconds() + " s). The command rewrites this section; do not edit it by hand.\n\n"
                + "- Machine: " + machine.cpus() + " CPUs, " + machine.cpuModel() + ", Linux " + machine.kernel()
                + "; Java: " + machine.java() + "\n"
                + "- Host load average (1/5/15 min) before: " + loadBefore + ", after: " + loadAfter
                + " — the machine may be shared; times depend on it, allocated bytes do not\n";
    }

    /** {@code /proc/loadavg}'s first three fields, joined with " / ". */
    public static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " / " + f[1] + " / " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown (" + e.getMessage() + ")";
        }
    }
}
