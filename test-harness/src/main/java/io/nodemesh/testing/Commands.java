package io.nodemesh.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs host commands (ip, nsenter, iptables) to completion with a time limit. */
public final class Commands {

    /** The longest any harness command may take before it is killed. */
    public static final Duration LIMIT = Duration.ofSeconds(60);

    private Commands() {
    }

    /** Runs {@code argv}, waits at most {@link #LIMIT}, and returns its status and output. */
    public static ExecResult run(List<String> argv) {
        ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            return new ExecResult(argv, 127, "", "cannot start " + argv.get(0) + ": " + e.getMessage());
        }
        CompletableFuture<String> out = drain(p.getInputStream());
        CompletableFuture<String> err = drain(p.getErrorStream());
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
