package io.nodemesh.bench.harness;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/** Starting the benchmark's long-lived processes pinned to a core, and waiting until they serve. */
final class Processes {

    /** The flags every JVM of the project runs with (root pom's {@code nodemesh.jvm.flags}). */
    static final List<String> JVM_FLAGS = List.of("--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "--add-exports=java.base/sun.nio.ch=ALL-UNNAMED",
            "-XX:+UseCompactObjectHeaders");

    private Processes() {
    }

    /** The {@code java} launcher of the running JVM. */
    static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * Starts {@code argv} in {@code ns}, pinned to {@code cpu} (unless negative) at niceness {@code nice}, with stdout and
     * stderr going to {@code log}. The returned process is the command itself (nsenter, sh and
     * taskset all exec), so its pid is the one to account; the topology destroys it at close.
     */
    static Process spawn(Netns ns, int cpu, int nice, Path log, List<String> argv) {
        List<String> cmd = new ArrayList<>(List.of("sh", "-c", "exec \"$@\" >\"$0\" 2>&1", log.toString()));
        cmd.addAll(pinned(cpu, nice, argv));
        return ns.spawn(cmd.toArray(String[]::new));
    }

    /** {@code argv} prefixed with {@code nice} and {@code taskset} as needed; both exec, keeping the pid. */
    static List<String> pinned(int cpu, int nice, List<String> argv) {
        List<String> cmd = new ArrayList<>();
        if (nice != 0) {
            cmd.addAll(List.of("nice", "-n", Integer.toString(nice)));
        }
        if (cpu >= 0) {
            cmd.addAll(List.of("taskset", "-c", Integer.toString(cpu)));
        }
        cmd.addAll(argv);
        return cmd;
    }

    /** Waits until {@code ready} holds; fails with the log's tail if the process dies or time runs out. */
    static void awaitReady(String what, Process p, Path log, Duration limit, BooleanSupplier ready) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (true) {
            if (!p.isAlive()) {
                throw new IllegalStateException(what + " exited with status " + p.exitValue() + " before it was ready; "
                        + log + " ends with:\n" + tail(log));
            }
            if (ready.getAsBoolean()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(what + " was not ready within " + limit.toSeconds() + " s; "
                        + log + " ends with:\n" + tail(log));
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + what, e);
            }
        }
    }

    /** Whether a TCP connection from inside {@code ns} to {@code target} is accepted within 500 ms. */
    static boolean canConnect(Netns ns, InetSocketAddress target) {
        try {
            return ns.call(() -> {
                try (Socket s = new Socket()) {
                    s.connect(target, 500);
                    return true;
                } catch (IOException e) {
                    return false;
                }
            });
        } catch (Exception e) {
            return false;
        }
    }

    /** The last {@code n} lines of {@code text}, joined by " / ". */
    static String lastLines(String text, int n) {
        List<String> lines = text.lines().toList();
        return String.join(" / ", lines.subList(Math.max(0, lines.size() - n), lines.size()));
    }

    /** The last 20 lines of a log file, or why it cannot be read. */
    static String tail(Path log) {
        try {
            List<String> lines = Files.readAllLines(log);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    /** Removes a run's work directory and everything in it. */
    static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
