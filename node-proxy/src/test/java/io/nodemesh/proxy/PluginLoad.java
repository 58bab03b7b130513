package io.nodemesh.proxy;

import com.fasterxml.jackson.databind.JsonNode;
import io.nodemesh.topology.Netns;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The CNI plugin calling the control socket back to back while the node's proxy is replaced: an ADD of pod
 * {@code notCaptured} (which the config must list with {@code capture: false}, so that the answer comes at once:
 * {@code not_captured}) with its namespace as the descriptor, then a DEL of a pod nobody holds ({@code released}),
 * over and over, a pause of {@code every} after each pair; every answer that is not {@code ok} and every failed call counted. Beside it, the socket's file is
 * looked at every millisecond: every inode it had, and how often it was missing.
 */
final class PluginLoad implements AutoCloseable {

    private final Path socket;
    private final Netns pod;
    private final String podName;
    private final Duration every;
    private final AtomicLong ok = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicReference<String> firstFailure = new AtomicReference<>();
    private final Set<Object> inodes = ConcurrentHashMap.newKeySet();
    private final AtomicLong missing = new AtomicLong();
    private final Thread caller;
    private final Thread watcher;
    private volatile boolean stopped;

    private PluginLoad(Path socket, String podName, Netns pod, Duration every) {
        this.socket = socket;
        this.podName = podName;
        this.pod = pod;
        this.every = every;
        this.caller = Thread.ofPlatform().name("plugin-load").daemon(true).start(this::call);
        this.watcher = Thread.ofPlatform().name("plugin-load-watch").daemon(true).start(this::watch);
    }

    /**
     * Starts calling {@code socket}, an ADD and a DEL and then a pause of {@code every} ({@link Duration#ZERO}: back to
     * back); {@code notCaptured} is pod {@code demo/<name>}, not captured by the config, whose namespace is {@code pod}.
     */
    static PluginLoad start(Path socket, String notCaptured, Netns pod, Duration every) {
        return new PluginLoad(socket, notCaptured, pod, every);
    }

    private void call() {
        long n = 0;
        while (!stopped) {
            n++;
            try {
                JsonNode add = PluginCalls.withNamespace(socket,
                        PluginCalls.request("ADD", "demo", podName, "sandbox-" + n, pod), pod);
                count("ADD", add, "not_captured");
                JsonNode del = PluginCalls.call(socket, PluginCalls.request("DEL", "demo", "gone-" + n, "sandbox-" + n,
                        null));
                count("DEL", del, "released");
                if (!every.isZero()) {
                    Thread.sleep(every);
                }
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                failed.incrementAndGet();
                firstFailure.compareAndSet(null, "call " + n + ": " + e);
            }
        }
    }

    private void count(String command, JsonNode answer, String state) {
        if (answer.path("ok").asBoolean() && answer.path("state").asText().equals(state)) {
            ok.incrementAndGet();
        } else {
            failed.incrementAndGet();
            firstFailure.compareAndSet(null, command + ": " + answer);
        }
    }

    private void watch() {
        while (!stopped) {
            try {
                inodes.add(Files.getAttribute(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS));
            } catch (NoSuchFileException e) {
                missing.incrementAndGet();
            } catch (Exception e) {
                firstFailure.compareAndSet(null, "stat " + socket + ": " + e);
            }
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** Calls answered as expected. */
    long ok() {
        return ok.get();
    }

    /** Calls that failed or were answered otherwise. */
    long failed() {
        return failed.get();
    }

    String firstFailure() {
        return firstFailure.get();
    }

    /** The inodes the socket file had while this ran (one: the same socket throughout). */
    Set<Object> inodes() {
        return Set.copyOf(inodes);
    }

    /** How often the socket file was not there. */
    long missing() {
        return missing.get();
    }

    /** Stops after the call under way has its answer. */
    @Override
    public void close() throws InterruptedException {
        stopped = true;
        caller.join(60_000);
        watcher.join(5_000);
    }
}
