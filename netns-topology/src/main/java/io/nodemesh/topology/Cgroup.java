package io.nodemesh.topology;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * A throw-away cgroup (v2) made by a {@link Topology}, as a pod's cgroup is on a node: commands run in it with
 * {@link #exec}, and it is emptied and removed when the topology closes. {@link #root} says where the unified
 * hierarchy is mounted, if anywhere.
 */
public final class Cgroup {

    private final String name;
    private final Path path;

    Cgroup(String name, Path path) {
        this.name = name;
        this.path = path;
    }

    /** The mount point of the cgroup v2 hierarchy ({@code cgroup2} in {@code /proc/self/mountinfo}); null if none. */
    public static Path root() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] halves = line.split(" - ", 2);
                if (halves.length == 2 && halves[1].startsWith("cgroup2 ")) {
                    return Path.of(halves[0].split(" ")[4]);
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    /** Its name, {@code <prefix><n>-<label>}. */
    public String name() {
        return name;
    }

    /** Its directory. */
    public Path path() {
        return path;
    }

    /** Runs {@code argv} to completion in this cgroup and in {@code ns} (60 s limit). */
    public ExecResult exec(Netns ns, String... argv) {
        return Commands.run(command(path, ns, argv));
    }

    /**
     * The command line that runs {@code argv} in the cgroup directory {@code dir} (this one, or one made below it, as a
     * container's is below its pod's) and in {@code ns}: a shell joins the cgroup, then becomes the command.
     */
    public static List<String> command(Path dir, Netns ns, String... argv) {
        List<String> all = new ArrayList<>(List.of("sh", "-c", "echo $$ > \"$0\"/cgroup.procs && exec \"$@\"",
                dir.toString(), "nsenter", "--net=" + ns.path()));
        all.addAll(List.of(argv));
        return all;
    }

    /** Kills what still runs in it and below and removes it with the cgroups made under it; nothing if it is gone. */
    void remove() {
        if (!Files.isDirectory(path)) {
            return;
        }
        try {
            Path kill = path.resolve("cgroup.kill");
            if (Files.exists(kill)) {
                Files.writeString(kill, "1"); // the whole subtree
            }
            List<Path> deepestFirst;
            try (Stream<Path> all = Files.walk(path)) {
                // A cgroup's files cannot be deleted, only its directory once its children are gone.
                deepestFirst = all.filter(Files::isDirectory).sorted(Comparator.comparingInt(Path::getNameCount)
                        .reversed()).toList();
            }
            for (Path dir : deepestFirst) {
                removeEmptied(dir);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove cgroup " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void removeEmptied(Path dir) throws IOException, InterruptedException {
        for (int i = 0; i < 100; i++) {
            try {
                Files.delete(dir);
                return;
            } catch (IOException busy) { // processes still leaving
                Thread.sleep(20);
            }
        }
        Files.delete(dir);
    }

    @Override
    public String toString() {
        return path.toString();
    }
}
