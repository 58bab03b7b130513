package io.nodemesh.proxy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * {@code nodemesh-keeper} (src/main/native, built into target/ at compile) as a process of the test, its messages
 * collected; {@link #close} stops it with SIGTERM, as a pod's end does.
 */
final class KeeperProcess implements AutoCloseable {

    /** Where node-proxy's build puts it (the tests run in their module's directory: node-proxy's, or a sibling's). */
    static final Path BINARY = Path.of("..", "node-proxy", "target", "nodemesh-keeper").toAbsolutePath().normalize();

    final Path socket;
    private final Process process;
    private final List<String> lines = new CopyOnWriteArrayList<>();

    private KeeperProcess(Path socket, Process process) {
        this.socket = socket;
        this.process = process;
        Thread.ofPlatform().daemon(true).name("keeper-log").start(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    lines.add(line);
                    System.out.println("[keeper] " + line);
                }
            } catch (IOException e) {
                // the process ended
            }
        });
    }

    /** Starts a keeper listening at {@code socket} and waits until it does. */
    static KeeperProcess start(Path socket) throws Exception {
        if (!Files.isExecutable(BINARY)) {
            throw new IllegalStateException(BINARY + " is missing: node-proxy's compile phase builds it (gcc)");
        }
        Files.createDirectories(socket.getParent());
        KeeperProcess keeper = new KeeperProcess(socket,
                new ProcessBuilder(BINARY.toString(), "--socket", socket.toString()).start());
        keeper.awaitLine("listening at");
        return keeper;
    }

    /** Waits (up to 30 s) for a message containing {@code text}; returns it. */
    String awaitLine(String text) throws InterruptedException {
        return awaitLine(text, 0);
    }

    /** Waits for a message containing {@code text} after the first {@code from} messages. */
    String awaitLine(String text, int from) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            for (int i = from; i < lines.size(); i++) {
                if (lines.get(i).contains(text)) {
                    return lines.get(i);
                }
            }
            if (!process.isAlive() && lines.stream().skip(from).noneMatch(l -> l.contains(text))) {
                Thread.sleep(50); // the last lines may still be on their way
                if (lines.stream().skip(from).noneMatch(l -> l.contains(text))) {
                    throw new AssertionError("the keeper exited (" + process.exitValue() + ") without saying '"
                            + text + "': " + lines);
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("the keeper did not say '" + text + "' in 30 s: " + lines);
    }

    /** How many messages it has written so far. */
    int lineCount() {
        return lines.size();
    }

    long pid() {
        return process.pid();
    }

    /** SIGTERM, then waits for it (SIGKILL after 5 s); its exit status. */
    int stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            stop();
        }
    }
}
