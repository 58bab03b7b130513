import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes the CNI plugin's layout at {@code package} (cni-plugin/pom.xml runs this file with the JDK's source launcher,
 * so it is neither compiled into nor shipped with the plugin): {@code LAYOUT/nodemesh-cni}, the launcher, from the
 * template beside this file with the JVM flags written in, and {@code LAYOUT/nodemesh-cni.d/} with
 * {@code cni-plugin.jar}, {@code jackson-core.jar} (modification times kept: the launcher compares the AOT cache's with
 * theirs), {@code libnodemesh-cni.so} (the plugin's JNI functions) and {@code java-home} (the JDK that ran the build).
 * An old AOT cache is removed; the next step of the build trains a new one.
 *
 * <p>Usage: {@code CniLayout.java TEMPLATE LAYOUT PLUGIN_JAR LIBRARY CLASSPATH JVM_FLAG...}, CLASSPATH being the
 * module's runtime class path (its classes, linux-native's jar, jackson-core's jar; only jackson-core's is taken).
 */
public class CniLayout {

    public static void main(String[] args) throws IOException {
        Path template = Path.of(args[0]);
        Path layout = Path.of(args[1]);
        Path pluginJar = Path.of(args[2]);
        Path library = Path.of(args[3]);
        String classPath = args[4];
        List<String> flags = List.of(args).subList(5, args.length);
        Path dir = layout.resolve("nodemesh-cni.d");
        Files.createDirectories(dir);
        copy(pluginJar, dir.resolve("cni-plugin.jar"));
        copy(library, dir.resolve("libnodemesh-cni.so"));
        // gcc makes it 755; a library is mapped, not run, and the image gives 644 to every file it is not told about
        Files.setPosixFilePermissions(dir.resolve("libnodemesh-cni.so"), PosixFilePermissions.fromString("rw-r--r--"));
        Files.deleteIfExists(dir.resolve("linux-native.jar")); // a layout of an earlier build had it
        List<String> missing = new ArrayList<>(List.of("jackson-core"));
        for (String entry : classPath.split(":")) {
            Path jar = Path.of(entry);
            String name = jar.getFileName().toString();
            for (String artifact : List.copyOf(missing)) {
                if (name.startsWith(artifact + "-") && name.endsWith(".jar")) {
                    copy(jar, dir.resolve(artifact + ".jar"));
                    missing.remove(artifact);
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalStateException("no jar of " + missing + " on the class path " + classPath
                    + " (the layout is built at package, when the reactor's modules are jars)");
        }
        Files.writeString(dir.resolve("java-home"), System.getProperty("java.home") + "\n");
        Files.deleteIfExists(dir.resolve("nodemesh-cni.aot"));
        String launcher = Files.readString(template).replace("@JVM_FLAGS@", String.join(" ", flags));
        Path script = layout.resolve("nodemesh-cni");
        Files.writeString(script, launcher);
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        System.out.println("CniLayout: " + script + " and " + dir);
    }

    private static void copy(Path from, Path to) throws IOException {
        Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
    }
}
