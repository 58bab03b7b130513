package io.nodemesh.image;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A Docker-save image tar unpacked into a temporary root filesystem, and commands run in it as a container runtime
 * would: chrooted, with the image's environment only, in a PID and mount namespace of their own with a fresh
 * {@code /proc} and the host's {@code /dev} (so the mounts never show on the host and go with the namespace). The network is the host's: the
 * tests use loopback only. Needs root, GNU tar, {@code unshare} and {@code chroot}; fails saying so otherwise.
 */
final class UnpackedImage implements AutoCloseable {

    /** What a finished command left. */
    record Result(int exitCode, String stdout, String stderr) {}

    private final Path dir;
    private final Path root;
    private final List<String> entrypoint;
    private final Map<String, String> env;
    private final List<Process> started = new ArrayList<>();

    private UnpackedImage(Path dir, Path root, List<String> entrypoint, Map<String, String> env) {
        this.dir = dir;
        this.root = root;
        this.entrypoint = entrypoint;
        this.env = env;
    }

    /** Unpacks {@code imageTar}'s layers in order into a new directory under {@code parent}. */
    static UnpackedImage unpack(Path imageTar, Path parent) throws IOException, InterruptedException {
        if (!"root".equals(System.getProperty("user.name"))) {
            throw new IllegalStateException("running the image needs root (chroot, unshare, the layers' owners)");
        }
        for (String tool : List.of("/usr/bin/unshare", "/usr/sbin/chroot", "/usr/bin/tar")) {
            if (!Files.isExecutable(Path.of(tool))) {
                throw new IllegalStateException(tool + " is missing (util-linux, coreutils and tar are needed)");
            }
        }
        if (!Files.isRegularFile(imageTar)) {
            throw new IllegalStateException(imageTar + " is missing: build it with mvn package -pl image -am");
        }
        Files.createDirectories(parent);
        Path dir = Files.createTempDirectory(parent, "image-");
        Path tarDir = Files.createDirectory(dir.resolve("tar"));
        Path root = Files.createDirectory(dir.resolve("rootfs"));
        try {
            tar("-xf", imageTar.toString(), "-C", tarDir.toString());
            ObjectMapper json = new ObjectMapper();
            JsonNode manifest = json.readTree(tarDir.resolve("manifest.json").toFile()).get(0);
            for (JsonNode layer : manifest.get("Layers")) {
                // Neither Jib nor build-base.sh writes whiteouts (no layer deletes a file), so extracting in order is
                // the image's file system.
                tar("--numeric-owner", "--warning=no-unknown-keyword", "-xzf",
                        tarDir.resolve(layer.asText()).toString(), "-C", root.toString());
            }
            JsonNode config = json.readTree(tarDir.resolve(manifest.get("Config").asText()).toFile()).get("config");
            List<String> entrypoint = new ArrayList<>();
            config.path("Entrypoint").forEach(e -> entrypoint.add(e.asText()));
            Map<String, String> env = new LinkedHashMap<>();
            for (JsonNode e : config.path("Env")) {
                String kv = e.asText();
                env.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            }
            return new UnpackedImage(dir, root, List.copyOf(entrypoint), Map.copyOf(env));
        } catch (IOException | InterruptedException | RuntimeException e) {
            removeTree(dir);
            throw e;
        }
    }

    Path root() {
        return root;
    }

    List<String> entrypoint() {
        return entrypoint;
    }

    Map<String, String> env() {
        return env;
    }

    /** The command line that runs {@code argv} in the image with its environment plus {@code extraEnv}. */
    List<String> command(Map<String, String> extraEnv, List<String> argv) {
        return command(false, extraEnv, argv);
    }

    /** As {@link #command(Map, List)}; {@code ownNetwork}: in a new network namespace (only a loopback, down). */
    List<String> command(boolean ownNetwork, Map<String, String> extraEnv, List<String> argv) {
        List<String> command = new ArrayList<>(List.of("/usr/bin/unshare", "--mount", "--pid", "--fork",
                "--kill-child", "--mount-proc=" + root.resolve("proc")));
        if (ownNetwork) {
            command.add("--net");
        }
        // The host's /dev as a runtime provides one (the image's is empty): the JVM starts its children with stdin
        // from /dev/null. Bound in the command's own mount namespace, it goes with it.
        command.addAll(List.of("/bin/sh", "-c", "mount --rbind /dev \"$0\" && exec \"$@\"",
                root.resolve("dev").toString(), "/usr/sbin/chroot", root.toString(), "/usr/bin/env", "-i"));
        Map<String, String> all = new LinkedHashMap<>(env);
        all.putAll(extraEnv);
        all.forEach((k, v) -> command.add(k + "=" + v));
        command.addAll(argv);
        return command;
    }

    /** Runs {@code argv} in the image to its end, {@code stdin} (may be null) fed to it. */
    Result run(Duration timeout, Map<String, String> extraEnv, String stdin, List<String> argv)
            throws IOException, InterruptedException {
        return run(false, timeout, extraEnv, stdin, argv);
    }

    /** As {@link #run(Duration, Map, String, List)}; {@code ownNetwork}: in a new network namespace. */
    Result run(boolean ownNetwork, Duration timeout, Map<String, String> extraEnv, String stdin, List<String> argv)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile(dir, "out-", ".txt");
        Path err = Files.createTempFile(dir, "err-", ".txt");
        ProcessBuilder builder = new ProcessBuilder(command(ownNetwork, extraEnv, argv))
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        if (stdin == null) {
            builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        Process process = builder.start();
        started.add(process);
        if (stdin != null) {
            try (var in = process.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            }
        }
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            stop(process);
            throw new AssertionError(argv + " in the image did not finish within " + timeout + "; stderr: "
                    + Files.readString(err));
        }
        return new Result(process.exitValue(), Files.readString(out), Files.readString(err));
    }

    /** Starts {@code argv} in the image, its output and errors into {@code log}; {@link #close} stops it. */
    Process start(Path log, Map<String, String> extraEnv, List<String> argv) throws IOException {
        Process process = new ProcessBuilder(command(extraEnv, argv)).redirectErrorStream(true)
                .redirectOutput(log.toFile()).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        started.add(process);
        return process;
    }

    /** Stops what was started, then removes the root filesystem. */
    @Override
    public void close() throws IOException, InterruptedException {
        for (Process process : started) {
            stop(process);
        }
        // /proc was mounted in the commands' own mount namespaces, gone with them; --one-file-system keeps rm off
        // anything that might still be mounted here.
        removeTree(dir);
    }

    private static void stop(Process process) throws InterruptedException {
        // unshare's child (the namespace's init) gets SIGKILL when unshare dies (--kill-child), and every process of
        // the namespace with it; the descendants are killed directly too, in case unshare is already gone.
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
    }

    private static void removeTree(Path dir) throws IOException, InterruptedException {
        Process rm = new ProcessBuilder("rm", "-rf", "--one-file-system", dir.toString()).inheritIO().start();
        if (rm.waitFor() != 0) {
            throw new IOException("rm -rf " + dir + " failed");
        }
    }

    private static void tar(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("/usr/bin/tar"));
        command.addAll(List.of(args));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (process.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed: " + output);
        }
    }
}
