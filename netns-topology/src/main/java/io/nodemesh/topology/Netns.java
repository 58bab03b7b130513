package io.nodemesh.topology;

import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/** A network namespace a test made; the {@link NetnsExtension} that made it removes it. */
public final class Netns {

    private final Topology owner;
    private final String name;
    private final NetworkNamespace handle;
    private volatile InetAddress ipv4;
    private volatile InetAddress ipv6;

    Netns(Topology owner, String name, NetworkNamespace handle) {
        this.owner = owner;
        this.name = name;
        this.handle = handle;
    }

    /** The namespace's name as {@code ip netns list} shows it. */
    public String name() {
        return name;
    }

    /** Its nsfs path, {@code /var/run/netns/<name>}. */
    public Path path() {
        return handle.path();
    }

    /** The IPv4 address the harness gave it, or null. */
    public InetAddress ipv4() {
        return ipv4;
    }

    /** The IPv6 address the harness gave it, or null. */
    public InetAddress ipv6() {
        return ipv6;
    }

    void addresses(InetAddress v4, InetAddress v6) {
        this.ipv4 = v4;
        this.ipv6 = v6;
    }

    /** Runs {@code argv} inside this namespace to completion (60 s limit). */
    public ExecResult exec(String... argv) {
        return Commands.run(nsenter(argv));
    }

    /** Runs {@code argv} inside this namespace to completion (60 s limit), handing each stderr line to {@code stderrLines} as it comes. */
    public ExecResult exec(Consumer<String> stderrLines, String... argv) {
        return Commands.run(nsenter(argv), stderrLines);
    }

    /** Runs {@code argv} inside this namespace and fails the test unless it exits 0. */
    public ExecResult execOk(String... argv) {
        return exec(argv).requireOk();
    }

    /** Starts {@code argv} inside this namespace in the background; it is destroyed at cleanup. */
    public Process spawn(String... argv) {
        try {
            Process p = new ProcessBuilder(nsenter(argv))
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            owner.track(p);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + String.join(" ", argv) + " in " + name, e);
        }
    }

    /**
     * Runs {@code body} on a new thread inside this namespace and waits for it. Sockets created by
     * the body stay in the namespace after it returns.
     */
    public <T> T call(Callable<T> body) throws Exception {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread t = Thread.ofPlatform().name("in-" + name).start(() -> {
            try {
                result.complete(handle.call(body));
            } catch (Throwable e) {
                result.completeExceptionally(e);
            }
        });
        try {
            return result.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception ex) {
                throw ex;
            }
            throw e;
        } finally {
            t.join();
        }
    }

    /** A single platform thread that lives inside this namespace; shut down at cleanup. */
    public ExecutorService executor() {
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> Thread.ofPlatform()
                .name("in-" + name + "-worker").daemon(true).unstarted(() -> {
                    try {
                        handle.call(() -> {
                            r.run();
                            return null;
                        });
                    } catch (Exception e) {
                        throw new IllegalStateException("cannot enter " + name, e);
                    }
                }));
        owner.track(ex);
        return ex;
    }

    NetworkNamespace handle() {
        return handle;
    }

    private List<String> nsenter(String... argv) {
        List<String> cmd = new ArrayList<>(List.of("nsenter", "--net=" + path()));
        cmd.addAll(List.of(argv));
        return cmd;
    }

    @Override
    public String toString() {
        return name;
    }
}
