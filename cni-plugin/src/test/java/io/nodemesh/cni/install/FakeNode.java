package io.nodemesh.cni.install;

import static java.nio.charset.StandardCharsets.UTF_8;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;

/**
 * A node's CNI dirs in a temp dir: {@code bin/}, {@code net.d/}, and the plugin's build layout in {@code source/} (a
 * trivial launcher and a dummy jar: the installer copies bytes, it does not care what they are).
 */
final class FakeNode {

    static final Path JAVA_HOME = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64");

    final Path bin;
    final Path conf;
    final Path source;

    FakeNode(Path root) {
        bin = root.resolve("bin");
        conf = root.resolve("net.d");
        source = root.resolve("source");
        try {
            Files.createDirectories(conf);
            Files.createDirectories(source.resolve("nodemesh-cni.d"));
            Files.writeString(source.resolve("nodemesh-cni"), "#!/bin/sh\nexec \"$(cat \"$0.d/java-home\")/bin/java\" -jar \"$0.d/nodemesh-cni.jar\"\n");
            Files.setPosixFilePermissions(source.resolve("nodemesh-cni"), PosixFilePermissions.fromString("rwxr-xr-x"));
            Files.write(source.resolve("nodemesh-cni.d/nodemesh-cni.jar"), "PK\u0003\u0004 not really a jar".getBytes(UTF_8));
            Files.createDirectories(source.resolve("nodemesh-cni.d/lib"));
            Files.write(source.resolve("nodemesh-cni.d/lib/jackson-core.jar"), new byte[4096]);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Copies a sample config (test resource) into the conf dir; returns its path. */
    Path config(String resource) {
        Path target = conf.resolve(resource);
        try (InputStream in = FakeNode.class.getResourceAsStream(resource)) {
            Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return target;
    }

    static byte[] sample(String resource) {
        try (InputStream in = FakeNode.class.getResourceAsStream(resource)) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    CniInstaller installer() {
        return installer(PluginEntry.defaults());
    }

    CniInstaller installer(PluginEntry entry) {
        return new CniInstaller(new CniInstaller.Settings(bin, conf, source, JAVA_HOME, entry), Clock.systemUTC());
    }

    /** Writes {@code bytes} to {@code file} the way a primary CNI does it (temp file, rename). */
    static void rewriteAsPrimary(Path file, byte[] bytes) throws IOException {
        Path temp = file.resolveSibling(file.getFileName() + ".primary-tmp");
        Files.write(temp, bytes);
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
