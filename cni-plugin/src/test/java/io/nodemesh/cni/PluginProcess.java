package io.nodemesh.cni;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * The plugin as a runtime runs it, a separate JVM per call: a bin directory holding {@code nodemesh-cni}. With
 * {@code -Dnodemesh.cni.layout=DIR} (the built layout, cni-plugin/target/cni) that is the real launcher; otherwise (the
 * tests run before {@code package}) a script written here that starts this build's classes, its JNI library and
 * jackson-core with the same flags (jvm-flags.properties' {@code jvm.flags} and {@code jvm.flags.cni}).
 */
final class PluginProcess {

    private PluginProcess() {
    }

    /** A directory with an executable {@code nodemesh-cni}; {@code scratch} holds the script when one is written. */
    static Path binDir(Path scratch) {
        String layout = System.getProperty("nodemesh.cni.layout");
        if (layout != null && !layout.isEmpty()) {
            return Path.of(layout);
        }
        List<String> classPath = new ArrayList<>();
        Path library = null;
        for (String entry : System.getProperty("java.class.path").split(":")) {
            if (entry.contains("cni-plugin/target/classes") || entry.contains("jackson-core")) {
                classPath.add(entry);
            }
            if (entry.contains("cni-plugin/target/classes")) {
                library = Path.of(entry).resolveSibling("libnodemesh-cni.so"); // built at compile
            }
        }
        if (classPath.size() != 2 || !Files.isRegularFile(library)) {
            throw new IllegalStateException("expected the plugin's classes and jackson-core on the test class path,"
                    + " found " + classPath + ", and target/libnodemesh-cni.so beside the classes");
        }
        String script = "#!/bin/sh\nexec " + Path.of(System.getProperty("java.home"), "bin", "java") + " "
                + String.join(" ", jvmFlags()) + " -D" + JniControlSocket.LIBRARY_PROPERTY + "=" + library
                + " -cp " + String.join(":", classPath) + " io.nodemesh.cni.CniPlugin\n";
        try {
            Path dir = Files.createDirectories(scratch.resolve("bin"));
            Path launcher = dir.resolve("nodemesh-cni");
            Files.writeString(launcher, script);
            Files.setPosixFilePermissions(launcher, PosixFilePermissions.fromString("rwxr-xr-x"));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code jvm.flags} then {@code jvm.flags.cni} of the repository's jvm-flags.properties. */
    static List<String> jvmFlags() {
        Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        while (dir != null && !Files.isRegularFile(dir.resolve("jvm-flags.properties"))) {
            dir = dir.getParent();
        }
        if (dir == null) {
            throw new IllegalStateException("no jvm-flags.properties above " + System.getProperty("user.dir"));
        }
        Properties flags = new Properties();
        try (InputStream in = Files.newInputStream(dir.resolve("jvm-flags.properties"))) {
            flags.load(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> words = new ArrayList<>();
        for (String key : List.of("jvm.flags", "jvm.flags.cni")) {
            words.addAll(List.of(flags.getProperty(key).trim().split("\\s+")));
        }
        return words;
    }
}
