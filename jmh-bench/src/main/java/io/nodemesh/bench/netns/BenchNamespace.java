package io.nodemesh.bench.netns;

import io.nodemesh.linux.NetworkNamespace;
import java.nio.file.Path;

/**
 * A network namespace of a benchmark's own, made with {@code ip netns add} and removed on {@link #close()}; the open
 * handle stands for a pod's. Needs root.
 */
final class BenchNamespace implements AutoCloseable {

    private final String name;
    private final NetworkNamespace handle;

    /** A namespace named {@code prefix} and this JVM's pid. */
    BenchNamespace(String prefix) throws Exception {
        name = prefix + ProcessHandle.current().pid();
        run("ip", "netns", "add", name);
        handle = NetworkNamespace.open(Path.of("/var/run/netns", name));
    }

    NetworkNamespace handle() {
        return handle;
    }

    @Override
    public void close() throws Exception {
        handle.close();
        run("ip", "netns", "del", name);
    }

    private static void run(String... argv) throws Exception {
        Process p = new ProcessBuilder(argv).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException(String.join(" ", argv) + " failed (needs root)");
        }
    }
}
