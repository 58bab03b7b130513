package io.nodemesh.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Builds the debugging commands' AOT caches (JEP 483/514) right after the shade, at {@code package} (cli/pom.xml):
 * starts the real servers ({@link CliServers}), then for each command runs {@link DebugCliTraining} from the built jar
 * in a JVM with the CLI's flags and {@code -XX:AOTCacheOutput=PREFIX-COMMAND.aot}. The cache is valid for exactly that jar (path, size and modification time) and
 * those flags; {@code bin/nodemesh} passes it only when it is newer than the jar. The servers run in this JVM, not in
 * the trained one, so that the cache holds the commands' classes only (the JVM loads all of a cache's classes at
 * start).
 */
final class CliAotCacheBuilder {

    private CliAotCacheBuilder() {
    }

    /** The commands with a cache each ({@code bin/nodemesh} picks {@code PREFIX-COMMAND.aot}). */
    static final List<String> COMMANDS = DebugCliTraining.COMMANDS;

    /** {@code JAR PREFIX JVM_FLAG...}: writes PREFIX-COMMAND.aot for JAR with those flags, or exits 1 saying why not. */
    public static void main(String[] args) throws Exception {
        try {
            build(args);
        } catch (TrainingFailed e) {
            System.err.println("CliAotCacheBuilder: " + e.getMessage());
            System.exit(1);
        }
    }

    /** The training run failed; the message holds its output. */
    private static final class TrainingFailed extends Exception {
        TrainingFailed(String message) {
            super(message);
        }
    }

    private static void build(String[] args) throws Exception {
        Path jar = Path.of(args[0]).toAbsolutePath();
        String prefix = Path.of(args[1]).toAbsolutePath().toString();
        List<String> flags = List.of(args).subList(2, args.length);
        Path dir = Files.createTempDirectory("nodemesh-aot-training");
        try (CliServers servers = CliServers.start(dir)) {
            for (String name : COMMANDS) {
                Path cache = Path.of(prefix + "-" + name + ".aot");
                train(jar, cache, flags, name, servers);
                System.out.println("CliAotCacheBuilder: " + cache + " (" + Files.size(cache) / 1024 + " KiB) for " + jar);
            }
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void train(Path jar, Path cache, List<String> flags, String name, CliServers servers)
            throws IOException, InterruptedException, TrainingFailed {
        Path log = Path.of(cache + ".log");
        Files.deleteIfExists(cache);
        List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.addAll(flags);
        command.addAll(List.of("-XX:AOTCacheOutput=" + cache, "-cp", jar.toString(),
                DebugCliTraining.class.getName(), name, servers.admin(), servers.adminSocket(), servers.agent()));
        Process training = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!training.waitFor(5, TimeUnit.MINUTES)) {
            training.destroyForcibly();
            fail("the training run of " + name + " did not finish in 5 minutes", log);
        }
        if (training.exitValue() != 0 || !Files.isRegularFile(cache) || Files.size(cache) == 0) {
            fail("the training run of " + name + " exited with " + training.exitValue()
                    + (!Files.isRegularFile(cache) ? " and wrote no cache" : Files.size(cache) == 0 ? " and left the cache empty" : ""), log);
        }
    }

    private static void fail(String why, Path log) throws IOException, TrainingFailed {
        throw new TrainingFailed(why + "; its output (" + log + "):\n" + Files.readString(log, StandardCharsets.UTF_8));
    }
}
