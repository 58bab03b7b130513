package io.nodemesh.topology;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/** Runs host commands (ip, nsenter, iptables) to completion with a time limit. */
public final class Commands {

    /** The longest any harness command may take before it is killed. */
    public static final Duration LIMIT = Duration.ofSeconds(60);

    private Commands() {
    }

    /** Runs {@code argv}, waits at most {@link #LIMIT}, and returns its status and output. */
    public static ExecResult run(List<String> argv) {
        return run(argv, line -> { });
    }

    /**
     * Runs {@code argv} like {@link #run(List)}, handing each line of its stderr to {@code stderrLines} as it is
     * written (on a reader thread), so a caller can act while the command still runs.
     */
    public static ExecResult run(List<String> argv, Consumer<String> stderrLines) {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new ExecResult(argv, 127, "", "cannot start " + argv.get(0) + ": " + e.getMessage());
        }
        CompletableFuture<String> out = drain(p.getInputStream());
        CompletableFuture<String> err = drainLines(p.getErrorStream(), stderrLines);
        try {
            if (!p.waitFor(LIMIT.toSeconds(), TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                return new ExecResult(argv, 124, out.join(), err.join() + "\n(killed after " + LIMIT + ")");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            return new ExecResult(argv, 130, "", "interrupted");
        }
        return new ExecResult(argv, p.exitValue(), out.join(), err.join());
    }

    /** Runs {@code argv} and returns the result. */
    public static ExecResult run(String... argv) {
        return run(List.of(argv));
    }

    private static CompletableFuture<String> drainLines(InputStream in, Consumer<String> lines) {
        return CompletableFuture.supplyAsync(() -> {
            StringBuilder all = new StringBuilder();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    all.append(line).append('\n');
                    lines.accept(line);
                }
                return all.toString();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, Thread::startVirtualThread);
    }

    private static CompletableFuture<String> drain(InputStream in) {
        return CompletableFuture.supplyAsync(() -> {
            try (in) {
                ByteArrayOutputStream buf = new ByteArrayOutputStream();
                in.transferTo(buf);
                return buf.toString(StandardCharsets.UTF_8);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, Thread::startVirtualThread);
    }
}
