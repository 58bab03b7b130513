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
 * Builds the debugging commands' AOT cache (JEP 483/514) right after the shade, at {@code package} (cli/pom.xml): starts
 * the real servers ({@link CliServers}), then runs {@link DebugCliTraining} from the built jar in a JVM with the CLI's
 * flags and {@code -XX:AOTCacheOutput}. The cache is valid for exactly that jar (path, size and modification time) and
 * those flags; {@code bin/nodemesh} passes it only when it is newer than the jar. The servers run in this JVM, not in
 * the trained one, so that the cache holds the commands' classes only (the JVM loads all of a cache's classes at
 * start).
 */
final class CliAotCacheBuilder {

    private CliAotCacheBuilder() {
    }

    /** {@code JAR CACHE JVM_FLAG...}: writes CACHE for JAR with those flags, or exits 1 saying why not. */
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
        Path cache = Path.of(args[1]).toAbsolutePath();
        Path log = Path.of(cache + ".log");
        Files.deleteIfExists(cache);
        Path dir = Files.createTempDirectory("nodemesh-aot-training");
        try (CliServers servers = CliServers.start(dir)) {
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(List.of(args).subList(2, args.length));
            command.addAll(List.of("-XX:AOTCacheOutput=" + cache, "-cp", jar.toString(),
                    DebugCliTraining.class.getName(), servers.admin(), servers.agent()));
            Process training = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!training.waitFor(5, TimeUnit.MINUTES)) {
                training.destroyForcibly();
                fail("the training run did not finish in 5 minutes", log);
            }
            if (training.exitValue() != 0 || !Files.isRegularFile(cache)) {
                fail("the training run exited with " + training.exitValue() + (Files.isRegularFile(cache) ? "" : " and wrote no cache"), log);
            }
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
        System.out.println("CliAotCacheBuilder: " + cache + " (" + Files.size(cache) / 1024 + " KiB) for " + jar
                + "; training output in " + log);
    }

    private static void fail(String why, Path log) throws IOException, TrainingFailed {
        throw new TrainingFailed(why + "; its output (" + log + "):\n" + Files.readString(log, StandardCharsets.UTF_8));
    }
}
