package io.nodemesh.cni;

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
 * Builds the plugin's AOT cache (JEP 483/514) at {@code package} (cni-plugin/pom.xml), after the layout: runs
 * {@link CniTraining} from the layout's three jars, in the order the launcher names them, with the launcher's flags
 * and {@code -XX:AOTCacheOutput=LAYOUT/nodemesh-cni.d/nodemesh-cni.aot}. The cache is valid for exactly those jars
 * (size and modification time) and flags; the launcher passes it only when it is newer than the jars.
 */
final class CniAotCacheBuilder {

    private CniAotCacheBuilder() {
    }

    /** {@code LAYOUT JVM_FLAG...}: writes LAYOUT/nodemesh-cni.d/nodemesh-cni.aot, or exits 1 saying why not. */
    public static void main(String[] args) throws Exception {
        Path layout = Path.of(args[0]).toAbsolutePath();
        List<String> flags = List.of(args).subList(1, args.length);
        Path dir = layout.resolve("nodemesh-cni.d");
        Path cache = dir.resolve("nodemesh-cni.aot");
        Path log = dir.resolve("nodemesh-cni.aot.log");
        Path work = Files.createTempDirectory("nodemesh-cni-training");
        try (ControlSocketServer server = ControlSocketServer.answering(work.resolve("cni.sock"))) {
            Files.deleteIfExists(cache);
            List<String> command = new ArrayList<>();
            command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            command.addAll(flags);
            command.addAll(List.of("-XX:AOTCacheOutput=" + cache,
                    "-D" + JniControlSocket.LIBRARY_PROPERTY + "=" + dir.resolve("libnodemesh-cni.so"), "-cp",
                    dir.resolve("cni-plugin.jar") + ":" + dir.resolve("jackson-core.jar"),
                    CniTraining.class.getName(), work.toString(), server.path().toString()));
            Process training = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            if (!training.waitFor(5, TimeUnit.MINUTES)) {
                training.destroyForcibly();
                fail("the training run did not finish in 5 minutes", log);
            }
            if (training.exitValue() != 0 || !Files.isRegularFile(cache) || Files.size(cache) == 0) {
                fail("the training run exited with " + training.exitValue()
                        + (!Files.isRegularFile(cache) ? " and wrote no cache" : Files.size(cache) == 0 ? " and left the cache empty" : ""), log);
            }
            System.out.println("CniAotCacheBuilder: " + cache + " (" + Files.size(cache) / 1024 + " KiB)");
        } finally {
            try (Stream<Path> files = Files.walk(work)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private static void fail(String why, Path log) throws IOException {
        System.err.println("CniAotCacheBuilder: " + why + "; its output (" + log + "):\n"
                + Files.readString(log, StandardCharsets.UTF_8));
        System.exit(1);
    }
}
