package io.nodemesh.cni.install;

import static java.nio.charset.StandardCharsets.UTF_8;

import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.Renames;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * The plugin's files in the CNI bin dir: the launcher {@code nodemesh-cni} and its directory {@code nodemesh-cni.d/}
 * (jars, AOT cache, a {@code java-home} file or a {@code jre/}), copied from the build's layout so that a runtime that
 * executes the plugin during an upgrade finds the old one or the new one, whole: the directory is copied to
 * {@code nodemesh-cni.d.tmp-<random>} and exchanged with the installed one in one step ({@code renameat2
 * RENAME_EXCHANGE}: a directory cannot be renamed over a non-empty one), the old one then deleted; on a filesystem
 * that cannot exchange, the old one is renamed aside first (the directory missing for that instant). The launcher goes
 * last, renamed over the old one.
 */
final class PluginFiles {

    static final String LAUNCHER = "nodemesh-cni";
    static final String DIR = "nodemesh-cni.d";
    static final String JAVA_HOME_FILE = "java-home";
    static final String JRE_DIR = "jre";

    private final Path source;
    private final Path binDir;
    private final Path javaHome;
    /** Size and modification time of every installed file (relative path), as last installed or checked. */
    private volatile Map<String, String> installed = Map.of();

    /**
     * @param source   the build's layout ({@code nodemesh-cni}, {@code nodemesh-cni.d/})
     * @param binDir   the CNI bin dir
     * @param javaHome the JDK/JRE the launcher runs, written to {@code nodemesh-cni.d/java-home}; null: as in source
     */
    PluginFiles(Path source, Path binDir, Path javaHome) {
        this.source = source;
        this.binDir = binDir;
        this.javaHome = javaHome;
    }

    Path launcher() {
        return binDir.resolve(LAUNCHER);
    }

    Path directory() {
        return binDir.resolve(DIR);
    }

    /** Checks the source and the Java home before anything is copied. */
    void validate() throws InstallException {
        if (!Files.isRegularFile(source.resolve(LAUNCHER))) {
            throw new InstallException(source.resolve(LAUNCHER) + ": no plugin launcher there (build cni-plugin, or"
                    + " point --plugin-source at a directory holding " + LAUNCHER + " and " + DIR + "/)");
        }
        if (!Files.isDirectory(source.resolve(DIR))) {
            throw new InstallException(source.resolve(DIR) + ": no plugin directory there (point --plugin-source at a"
                    + " directory holding " + LAUNCHER + " and " + DIR + "/)");
        }
        if (javaHome != null) {
            Path java = javaHome.resolve("bin/java");
            if (!javaHome.isAbsolute() || !Files.isExecutable(java)) {
                throw new InstallException("--java-home " + javaHome + ": no executable " + java
                        + " (an absolute path to a JDK or JRE on the node)");
            }
        } else if (!Files.isRegularFile(source.resolve(DIR).resolve(JAVA_HOME_FILE))
                && !Files.isDirectory(source.resolve(DIR).resolve(JRE_DIR))) {
            throw new InstallException(source.resolve(DIR) + ": neither a " + JAVA_HOME_FILE + " file nor a " + JRE_DIR
                    + "/: the launcher would find no Java (pass --java-home)");
        }
    }

    /**
     * Makes the bin dir's copy equal to the source (and the Java home), copying only when it differs.
     *
     * @return whether anything was copied
     */
    boolean install() throws InstallException {
        validate();
        try {
            Files.createDirectories(binDir);
            removeLeftovers();
            boolean copied = false;
            if (!sameTree(source.resolve(DIR), directory())) {
                swapInDirectory();
                copied = true;
            }
            if (!Files.isRegularFile(launcher(), LinkOption.NOFOLLOW_LINKS)
                    || Files.mismatch(source.resolve(LAUNCHER), launcher()) != -1L || !Files.isExecutable(launcher())) {
                Path temp = AtomicFiles.tempBeside(launcher());
                try {
                    Files.copy(source.resolve(LAUNCHER), temp, StandardCopyOption.COPY_ATTRIBUTES);
                    Files.setPosixFilePermissions(temp, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
                    AtomicFiles.move(temp, launcher());
                } finally {
                    Files.deleteIfExists(temp);
                }
                copied = true;
            }
            AtomicFiles.syncDirectory(binDir);
            installed = snapshot();
            return copied;
        } catch (IOException | UncheckedIOException e) {
            throw new InstallException(binDir + ": cannot install the plugin: " + e.getMessage(), e);
        }
    }

    /** Whether the installed files are as this installer last left them (sizes and times: cheap, for the watcher). */
    boolean intact() {
        try {
            return !installed.isEmpty() && installed.equals(snapshot());
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    /** Removes the launcher first (the runtime stops finding the plugin), then its directory. */
    boolean remove() throws InstallException {
        try {
            boolean removed = Files.deleteIfExists(launcher());
            if (Files.exists(directory(), LinkOption.NOFOLLOW_LINKS)) {
                Path aside = binDir.resolve(DIR + ".old-" + random());
                AtomicFiles.move(directory(), aside);
                deleteTree(aside);
                removed = true;
            }
            removeLeftovers();
            installed = Map.of();
            return removed;
        } catch (IOException | UncheckedIOException e) {
            throw new InstallException(binDir + ": cannot remove the plugin: " + e.getMessage(), e);
        }
    }

    private void swapInDirectory() throws IOException {
        Path fresh = binDir.resolve(DIR + ".tmp-" + random());
        try {
            copyTree(source.resolve(DIR), fresh);
            if (javaHome != null) {
                Files.write(fresh.resolve(JAVA_HOME_FILE), (javaHome + "\n").getBytes(UTF_8));
            }
            if (Files.exists(directory(), LinkOption.NOFOLLOW_LINKS)) {
                try {
                    // One step: a runtime starting the plugin meanwhile finds the old directory or the new one.
                    Renames.exchange(fresh, directory());
                    deleteTree(fresh); // the old one, now
                } catch (NativeException e) {
                    if (e.errno() != Renames.EINVAL && e.errno() != Renames.ENOSYS) {
                        throw e;
                    }
                    // A filesystem that cannot exchange: two renames, the directory missing in between.
                    Path aside = binDir.resolve(DIR + ".old-" + random());
                    AtomicFiles.move(directory(), aside);
                    AtomicFiles.move(fresh, directory());
                    deleteTree(aside);
                }
            } else {
                AtomicFiles.move(fresh, directory());
            }
        } finally {
            if (Files.exists(fresh, LinkOption.NOFOLLOW_LINKS)) {
                deleteTree(fresh);
            }
        }
    }

    /** Whether {@code installed} holds exactly the files of {@code wanted}, byte for byte (the Java home applied). */
    private boolean sameTree(Path wanted, Path installedDir) throws IOException {
        if (!Files.isDirectory(installedDir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        Map<String, Path> want = files(wanted);
        Map<String, Path> have = files(installedDir);
        if (javaHome != null) {
            want.remove(JAVA_HOME_FILE);
            Path file = have.remove(JAVA_HOME_FILE);
            if (file == null || !Files.readString(file, UTF_8).equals(javaHome + "\n")) {
                return false;
            }
        }
        if (!want.keySet().equals(have.keySet())) {
            return false;
        }
        for (var e : want.entrySet()) {
            Path a = e.getValue();
            Path b = have.get(e.getKey());
            if (Files.isSymbolicLink(a) || Files.isSymbolicLink(b)) {
                if (!Files.isSymbolicLink(a) || !Files.isSymbolicLink(b)
                        || !Files.readSymbolicLink(a).equals(Files.readSymbolicLink(b))) {
                    return false;
                }
            } else if (Files.mismatch(a, b) != -1L || Files.isExecutable(a) != Files.isExecutable(b)) {
                return false;
            }
        }
        return true;
    }

    private static Map<String, Path> files(Path root) throws IOException {
        Map<String, Path> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> !Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS))
                    .forEach(p -> files.put(root.relativize(p).toString(), p));
        }
        return files;
    }

    private Map<String, String> snapshot() throws IOException {
        Map<String, String> state = new TreeMap<>();
        if (!Files.isRegularFile(launcher()) || !Files.isDirectory(directory(), LinkOption.NOFOLLOW_LINKS)) {
            return Map.of();
        }
        state.put(LAUNCHER, stamp(launcher()));
        for (var e : files(directory()).entrySet()) {
            state.put(DIR + "/" + e.getKey(), stamp(e.getValue()));
        }
        return state;
    }

    private static String stamp(Path file) throws IOException {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        return a.size() + "@" + a.lastModifiedTime().to(java.util.concurrent.TimeUnit.NANOSECONDS) + "#" + a.fileKey();
    }

    /** Temp and old directories a killed installer left behind. */
    private void removeLeftovers() throws IOException {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(binDir, DIR + ".{tmp,old}-*")) {
            for (Path leftover : entries) {
                deleteTree(leftover);
            }
        } catch (NoSuchFileException e) {
            // no bin dir: nothing left over
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(binDir, "." + LAUNCHER + ".nodemesh-tmp-*")) {
            for (Path leftover : entries) {
                Files.deleteIfExists(leftover);
            }
        } catch (NoSuchFileException e) {
            // as above
        }
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.copy(file, to.resolve(from.relativize(file).toString()), StandardCopyOption.COPY_ATTRIBUTES,
                        LinkOption.NOFOLLOW_LINKS);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Path target = to.resolve(from.relativize(dir).toString());
                Files.setPosixFilePermissions(target, Files.getPosixFilePermissions(dir));
                Files.setLastModifiedTime(target, Files.getLastModifiedTime(dir));
                return FileVisitResult.CONTINUE;
            }
        });
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path dir, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(dir);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /** The installed plugin as {@code nodemesh cni status} shows it. */
    record Summary(boolean launcher, boolean directory, long bytes, int files, String javaHome, FileTime modified) {}

    static Summary describe(Path binDir) {
        Path launcher = binDir.resolve(LAUNCHER);
        Path dir = binDir.resolve(DIR);
        boolean hasLauncher = Files.isRegularFile(launcher);
        boolean hasDir = Files.isDirectory(dir);
        long bytes = 0;
        int count = 0;
        FileTime modified = null;
        String java = null;
        try {
            if (hasLauncher) {
                bytes += Files.size(launcher);
                count++;
                modified = Files.getLastModifiedTime(launcher);
            }
            if (hasDir) {
                for (Path file : files(dir).values()) {
                    bytes += Files.size(file);
                    count++;
                }
                Path javaHomeFile = dir.resolve(JAVA_HOME_FILE);
                java = Files.isRegularFile(javaHomeFile) ? Files.readString(javaHomeFile, UTF_8).strip()
                        : Files.isDirectory(dir.resolve(JRE_DIR)) ? dir.resolve(JRE_DIR).toString() : null;
            }
        } catch (IOException | UncheckedIOException e) {
            // a file went while we counted: the sums are a view, not a promise
        }
        return new Summary(hasLauncher, hasDir, bytes, count, java, modified);
    }

    private static String random() {
        return Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
    }
}
