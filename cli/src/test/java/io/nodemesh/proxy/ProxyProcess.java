package io.nodemesh.proxy;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * A {@code nodemesh proxy} process started the way bin/nodemesh starts it (bin/jvm-flags.sh): {@code java} with the
 * flags of jvm-flags.properties for every JVM and for the daemons, {@code MALLOC_ARENA_MAX} from there too,
 * {@code -jar cli/target/nodemesh.jar proxy ARGS}; its output (slf4j-simple on stderr, with timestamps) in a log file
 * that tests read. {@link #close} kills it if it still runs.
 */
final class ProxyProcess implements AutoCloseable {

    /** The repository: failsafe runs in the cli module's directory. */
    private static final Path REPOSITORY = Path.of("..").toAbsolutePath().normalize();
    /** Built by the cli module's package phase. */
    static final Path JAR = REPOSITORY.resolve("cli/target/nodemesh.jar");

    private final String name;
    private final Process process;
    private final Path log;

    private ProxyProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** Starts {@code nodemesh proxy args}, its output in {@code <name>.log} in {@code dir}. */
    static ProxyProcess start(String name, Path dir, List<String> args) throws IOException {
        return start(name, dir, List.of(), "proxy", args);
    }

    /**
     * Starts {@code nodemesh COMMAND args} ({@code proxy} or {@code agent}) with the daemons' flags (the agent's too
     * for {@code agent}) and then {@code jvm}, its output in {@code <name>.log} in {@code dir}.
     */
    static ProxyProcess start(String name, Path dir, List<String> jvm, String command, List<String> args)
            throws IOException {
        return start(Path.of(System.getProperty("java.home"), "bin", "java"), JAR, name, dir, jvm, command, args);
    }

    /** As {@link #start(String, Path, List, String, List)}, with {@code java} running {@code jar}. */
    static ProxyProcess start(Path java, Path jar, String name, Path dir, List<String> jvm, String command,
                              List<String> args) throws IOException {
        Properties flags = new Properties();
        try (Reader r = Files.newBufferedReader(REPOSITORY.resolve("jvm-flags.properties"))) {
            flags.load(r);
        }
        List<String> argv = new ArrayList<>();
        argv.add(java.toString());
        argv.addAll(words(flags, "jvm.flags"));
        argv.addAll(words(flags, "jvm.flags.daemon"));
        if (command.equals("agent")) {
            argv.addAll(words(flags, "jvm.flags.agent"));
        }
        argv.addAll(jvm);
        argv.addAll(List.of("-jar", jar.toString(), command));
        argv.addAll(args);
        Path log = dir.resolve(name + ".log");
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("MALLOC_ARENA_MAX", flags.getProperty("jvm.env.MALLOC_ARENA_MAX").trim());
        return new ProxyProcess(name, pb.start(), log);
    }

    private static List<String> words(Properties flags, String key) {
        return List.of(flags.getProperty(key).trim().split("\\s+"));
    }

    /** The first line of the log that contains {@code text}, if there is one yet. */
    Optional<String> line(String text) throws IOException {
        return Files.readAllLines(log).stream().filter(l -> l.contains(text)).findFirst();
    }

    /** Waits for a line of the log that contains {@code text}; fails (with the log) if the process exits first. */
    String awaitLine(String text, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Optional<String> found = line(text);
            if (found.isPresent()) {
                return found.get();
            }
            if (!process.isAlive()) {
                throw new AssertionError(name + " exited (" + process.exitValue() + ") before logging '" + text
                        + "':\n" + log());
            }
            Thread.sleep(10);
        }
        throw new AssertionError(name + " did not log '" + text + "' within " + timeout + ":\n" + log());
    }

    /** When the process logged {@code line} (slf4j-simple's timestamp, the line's first word). */
    static OffsetDateTime time(String line) {
        return OffsetDateTime.parse(line.substring(0, line.indexOf(' ')));
    }

    /** Sends SIGTERM, as the container runtime does on a pod's deletion, and waits for the exit; its status. */
    int terminate(Duration timeout) throws InterruptedException {
        process.destroy(); // SIGTERM on Linux
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError(name + " still runs " + timeout + " after SIGTERM");
        }
        return process.exitValue();
    }

    /** Sends SIGKILL, as the kernel's OOM killer does, and waits for the exit; its status. */
    int kill() throws InterruptedException {
        process.destroyForcibly(); // SIGKILL on Linux
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            throw new AssertionError(name + " still runs 10 s after SIGKILL");
        }
        return process.exitValue();
    }

    /** The process's pid. */
    long pid() {
        return process.pid();
    }

    /** Everything it logged so far. */
    String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }
}
