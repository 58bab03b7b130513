package io.nodemesh.rules;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/** Runs a netfilter tool inside a network namespace with {@code nsenter --net=PATH} and collects its output. */
final class NetnsRunner {

    /** What a finished tool run produced. */
    record Result(int exitCode, String stdout, String stderr) {
        boolean ok() {
            return exitCode == 0;
        }
    }

    private static final long TIMEOUT_SECONDS = 30;
    // PATH of a JVM started by a non-login shell may lack the sbin directories.
    private static final List<String> FALLBACK_DIRS = List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin");

    private NetnsRunner() {
    }

    /** Fails with a message naming the path unless it exists. */
    static void requireNamespace(Path netns) {
        if (netns == null) {
            throw new RulesException("no network namespace path given (e.g. /var/run/netns/NAME or /proc/PID/ns/net)");
        }
        if (!Files.exists(netns)) {
            throw new RulesException("network namespace " + netns + " does not exist");
        }
    }

    /** Runs {@code tool args…} in the namespace, feeding {@code stdin} (may be null); never throws on a non-zero exit. */
    static Result run(Path netns, String tool, String stdin, String... args) {
        requireNamespace(netns);
        List<String> command = new ArrayList<>();
        command.add(resolve("nsenter"));
        command.add("--net=" + netns);
        command.add(resolve(tool));
        command.addAll(List.of(args));
        Process process;
        try {
            process = new ProcessBuilder(command).redirectInput(stdin == null
                    ? ProcessBuilder.Redirect.from(new File("/dev/null")) : ProcessBuilder.Redirect.PIPE).start();
        } catch (IOException e) {
            throw new RulesException("cannot start " + String.join(" ", command) + ": " + e.getMessage(), e);
        }
        try {
            CompletableFuture<String> out = drain(process.getInputStream());
            CompletableFuture<String> err = drain(process.getErrorStream());
            if (stdin != null) {
                try (OutputStream in = process.getOutputStream()) {
                    in.write(stdin.getBytes(StandardCharsets.UTF_8));
                }
            }
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new RulesException(tool + " in " + netns + " did not finish within " + TIMEOUT_SECONDS + " s");
            }
            return new Result(process.exitValue(), out.get(), err.get());
        } catch (IOException e) {
            throw new RulesException(tool + " in " + netns + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new RulesException("interrupted while running " + tool + " in " + netns, e);
        } catch (ExecutionException e) {
            throw new RulesException("reading the output of " + tool + " failed: " + e.getCause(), e);
        }
    }

    /** Like {@link #run} but a non-zero exit becomes a RulesException carrying the tool's stderr. */
    static String runOk(Path netns, String tool, String stdin, String... args) {
        Result result = run(netns, tool, stdin, args);
        if (!result.ok()) {
            throw new RulesException(tool + " " + String.join(" ", args) + " in " + netns + " failed (exit "
                    + result.exitCode() + "): " + result.stderr().strip());
        }
        return result.stdout();
    }

    /** The absolute path of a tool: first hit on PATH, then the usual sbin/bin directories. */
    static String resolve(String tool) {
        List<String> dirs = new ArrayList<>();
        String path = System.getenv("PATH");
        if (path != null) {
            dirs.addAll(List.of(path.split(File.pathSeparator)));
        }
        dirs.addAll(FALLBACK_DIRS);
        for (String dir : dirs) {
            if (dir.isEmpty()) {
                continue;
            }
            Path candidate = Path.of(dir, tool);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate.toAbsolutePath().toString();
            }
        }
        throw new RulesException(tool + " not found on PATH or in " + FALLBACK_DIRS + "; install it (iptables, nftables, util-linux)");
    }

    private static CompletableFuture<String> drain(InputStream stream) {
        CompletableFuture<String> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (stream) {
                result.complete(new String(stream.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                result.completeExceptionally(new UncheckedIOException(e));
            }
        });
        return result;
    }
}
