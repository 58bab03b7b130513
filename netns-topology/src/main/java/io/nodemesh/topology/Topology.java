package io.nodemesh.topology;

import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Owns a set of network namespaces (nodes with a bridge, pods on veth pairs), the processes and
 * threads started in them, and removes all of it on {@link #close()}, in reverse order. Tests get
 * one through {@link NetnsExtension}; the demo and the benchmark harness create their own.
 */
public final class Topology implements AutoCloseable {

    private static final AtomicInteger COUNTER = new AtomicInteger();

    private final String prefix;
    private final List<Netns> namespaces = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();
    private final List<ExecutorService> executors = new ArrayList<>();
    private final List<Cgroup> cgroups = new ArrayList<>();
    private Thread exitHook;

    /** A topology whose namespaces are all named {@code <prefix><n>-<label>}. */
    public Topology(String prefix) {
        this.prefix = prefix;
    }

    /**
     * Also closes this topology when the JVM exits (Ctrl-C, SIGTERM) before {@link #close()} was
     * called; {@code close()} withdraws that again. For the demo and the benchmarks, which run
     * outside JUnit.
     */
    public synchronized Topology closeOnExit() {
        if (exitHook == null) {
            exitHook = Thread.ofPlatform().name("topology-cleanup").unstarted(this::close);
            Runtime.getRuntime().addShutdownHook(exitHook);
        }
        return this;
    }

    /** Creates a namespace named {@code <prefix><n>-<label>} with its loopback up. */
    public synchronized Netns namespace(String label) {
        String name = prefix + COUNTER.incrementAndGet() + "-" + label;
        ip("netns", "add", name);
        try {
            ip("-n", name, "link", "set", "lo", "up");
            Netns ns = new Netns(this, name, NetworkNamespace.open(Path.of("/var/run/netns", name)));
            namespaces.add(ns);
            return ns;
        } catch (IOException | RuntimeException | Error e) {
            Commands.run("ip", "netns", "del", name);
            throw new IllegalStateException("cannot set up namespace " + name + ": " + e.getMessage(), e);
        }
    }

    /**
     * Creates a cgroup named {@code <prefix><n>-<label>} under the cgroup v2 hierarchy ({@link Cgroup#root}), removed
     * (what runs in it killed) when this topology closes.
     *
     * @throws IllegalStateException when there is no cgroup v2 hierarchy or the directory cannot be made
     */
    public synchronized Cgroup cgroup(String label) {
        Path root = Cgroup.root();
        if (root == null) {
            throw new IllegalStateException("no cgroup v2 hierarchy is mounted (cgroup2 in /proc/self/mountinfo)");
        }
        String name = prefix + COUNTER.incrementAndGet() + "-" + label;
        try {
            Cgroup c = new Cgroup(name, java.nio.file.Files.createDirectory(root.resolve(name)));
            cgroups.add(c);
            return c;
        } catch (IOException e) {
            throw new IllegalStateException("cannot make cgroup " + root.resolve(name) + ": " + e.getMessage(), e);
        }
    }

    /** Creates a "node": a namespace holding an up bridge {@code br0} that pods attach to. */
    public Lan lan(String label) {
        Netns node = namespace(label);
        ip("-n", node.name(), "link", "add", "br0", "type", "bridge");
        ip("-n", node.name(), "link", "set", "br0", "up");
        return new Lan(this, node);
    }

    synchronized void track(Process p) {
        processes.add(p);
    }

    synchronized void track(ExecutorService ex) {
        executors.add(ex);
    }

    static void ip(String... args) {
        String[] argv = new String[args.length + 1];
        argv[0] = "ip";
        System.arraycopy(args, 0, argv, 1, args.length);
        Commands.run(argv).requireOk();
    }

    /** Stops what was started in the namespaces and deletes the namespaces. */
    @Override
    public synchronized void close() {
        for (Process p : processes) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        for (ExecutorService ex : executors) {
            ex.shutdownNow();
        }
        for (Cgroup c : cgroups) {
            try {
                c.remove();
            } catch (RuntimeException e) {
                System.err.println("topology: " + e.getMessage());
            }
        }
        cgroups.clear();
        for (int i = namespaces.size() - 1; i >= 0; i--) {
            Netns ns = namespaces.get(i);
            ns.handle().close();
            Commands.run("ip", "netns", "del", ns.name());
        }
        processes.clear();
        executors.clear();
        namespaces.clear();
        if (exitHook != null && Thread.currentThread() != exitHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(exitHook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is exiting; the hook finds nothing left to do
            }
        }
        exitHook = null;
    }
}
