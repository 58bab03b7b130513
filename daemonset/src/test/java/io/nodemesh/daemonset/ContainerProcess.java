package io.nodemesh.daemonset;

import io.fabric8.kubernetes.api.model.Capabilities;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSecurityContext;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * One container of the rendered pod run on this machine the way a container runtime would start it, without touching
 * the machine's own paths: inside the pod's network namespace ({@code nsenter --net}) and a private mount namespace
 * ({@code unshare --mount}) whose root is a copy-on-write overlay of this machine's root, made read-only when the
 * container says {@code readOnlyRootFilesystem}, with each volumeMount bind-mounted at its mountPath from the directory
 * standing for the volume; then {@code chroot} and {@code setpriv} with the container's user, groups (fsGroup and
 * supplementalGroups), capability bounding set and no_new_privs. Every mount lives in that namespace, which goes with
 * the process, whatever happens to the test. Not emulated: seccomp, cgroups (resources), the PID namespace.
 *
 * <p>The image's command {@code nodemesh} is started through a {@link Launcher}: in DaemonSetRunsTest
 * {@code java <flags> -jar nodemesh.jar}, as the image's launcher would run it.
 */
final class ContainerProcess implements AutoCloseable {

    private final String name;
    private final Process process;
    private final Path log;

    private ContainerProcess(String name, Process process, Path log) {
        this.name = name;
        this.process = process;
        this.log = log;
    }

    /** How {@code nodemesh ARGS} is started here. */
    interface Launcher {
        /** The command line that runs {@code nodemesh args}. */
        List<String> command(List<String> args);

        /** Environment variables the launcher sets for {@code nodemesh args}. */
        Map<String, String> env(List<String> args);
    }

    /** What a container is started with beyond its own spec. */
    record Start(Kubelet kubelet, PodSecurityContext pod, Map<String, Path> volumes, Map<String, Path> extraMounts,
                 Map<String, String> extraEnv, Path netns, Launcher launcher, Path workDir) {
    }

    /** Where the image has nodemesh-cni-watch, the install-cni sidecar's command (the test mounts the built one). */
    static final String IMAGE_WATCH = "/opt/nodemesh/bin/nodemesh-cni-watch";
    /** Where the image has nodemesh-keeper, the listener-keeper sidecar's command (the test mounts the built one). */
    static final String IMAGE_KEEPER = "/opt/nodemesh/bin/nodemesh-keeper";

    /**
     * Starts {@code c}: its {@code command} must be the image's {@code nodemesh}, its {@code nodemesh-cni-watch} with
     * {@code nodemesh} as the command it runs (after {@code --}), or its {@code nodemesh-keeper} (no JVM); its args are
     * expanded by the kubelet, each of its volumeMounts is served from {@code start.volumes()} by volume name,
     * {@code extraMounts} (path in the container → directory or file here) are what the kubelet and the image add
     * (the service account, the image's own files, {@link #IMAGE_WATCH}, {@link #IMAGE_KEEPER}), {@code extraEnv}
     * what the kubelet adds to every container ({@code KUBERNETES_SERVICE_*}).
     */
    static ContainerProcess start(Container c, Start start) throws IOException {
        List<String> args = start.kubelet().args(c);
        List<String> command;
        List<String> nodemeshArgs;
        if (List.of("nodemesh-keeper").equals(c.getCommand())) {
            nodemeshArgs = null; // no nodemesh command: nothing of the launcher's
            command = new ArrayList<>(List.of(IMAGE_KEEPER));
            command.addAll(args);
        } else if (List.of("nodemesh").equals(c.getCommand())) {
            nodemeshArgs = args;
            command = start.launcher().command(args);
        } else if (List.of("nodemesh-cni-watch").equals(c.getCommand())) {
            int end = args.indexOf("--");
            if (end < 0 || end + 1 >= args.size() || !args.get(end + 1).equals("nodemesh")) {
                throw new AssertionError(c.getName() + ": nodemesh-cni-watch " + args + " runs no nodemesh command");
            }
            nodemeshArgs = args.subList(end + 2, args.size());
            command = new ArrayList<>(List.of(IMAGE_WATCH));
            command.addAll(args.subList(0, end + 1));
            command.addAll(start.launcher().command(nodemeshArgs));
        } else {
            throw new AssertionError(c.getName() + ": command " + c.getCommand()
                    + ", expected the image's nodemesh, nodemesh-cni-watch or nodemesh-keeper");
        }
        Map<String, String> env = new LinkedHashMap<>();
        // What the image's config sets (Debian's PATH); the launcher's and the kubelet's additions; the container's.
        env.put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env.put("HOSTNAME", "nodemesh-x7k2q");
        env.putAll(start.extraEnv());
        if (nodemeshArgs != null) {
            env.putAll(start.launcher().env(nodemeshArgs));
        }
        env.putAll(start.kubelet().env(c));

        Map<String, Mount> mounts = new LinkedHashMap<>();
        for (VolumeMount m : c.getVolumeMounts()) {
            if (m.getSubPath() != null || m.getSubPathExpr() != null) {
                throw new AssertionError(c.getName() + ": subPath mounts are not emulated (" + m.getName() + ")");
            }
            Path source = start.volumes().get(m.getName());
            if (source == null) {
                throw new AssertionError(c.getName() + ": no stand-in for volume " + m.getName());
            }
            mounts.put(m.getMountPath(), new Mount(source, Boolean.TRUE.equals(m.getReadOnly())));
        }
        start.extraMounts().forEach((target, source) -> mounts.put(target, new Mount(source, true)));

        Path dir = Files.createDirectories(start.workDir().resolve(c.getName()));
        Path script = Files.writeString(dir.resolve("start.sh"), script(c, start.pod(), dir, mounts, command));
        // A restarted container's output beside its predecessor's, as the kubelet keeps the previous one's log.
        Path log = dir.resolve("output.log");
        for (int restart = 1; Files.exists(log); restart++) {
            log = dir.resolve("output." + restart + ".log");
        }
        ProcessBuilder pb = new ProcessBuilder("nsenter", "--net=" + start.netns(), "unshare", "--mount",
                "--propagation", "private", "sh", script.toString());
        pb.environment().clear();
        pb.environment().putAll(env);
        pb.redirectErrorStream(true).redirectOutput(log.toFile());
        // nsenter, unshare, sh (exec) and chroot, setpriv exec one another: the process is the container's program
        // itself (a JVM, nodemesh-cni-watch or nodemesh-keeper), and a SIGTERM to it is the runtime's SIGTERM to the
        // container.
        return new ContainerProcess(c.getName(), pb.start(), log);
    }

    private record Mount(Path source, boolean readOnly) {
    }

    private static String script(Container c, PodSecurityContext pod, Path dir, Map<String, Mount> mounts,
                                 List<String> command) throws IOException {
        Path layers = Files.createDirectories(dir.resolve("rootfs"));
        String root = layers + "/root";
        StringBuilder sh = new StringBuilder("set -eu\n");
        // The container's root: an overlay of this machine's root, its writes in a tmpfs of this mount namespace, so
        // the mount points can be made without making them here.
        sh.append("mount -t tmpfs -o mode=0755 nodemesh-rootfs ").append(q(layers.toString())).append('\n');
        sh.append("mkdir ").append(q(layers + "/upper")).append(' ').append(q(layers + "/work")).append(' ')
                .append(q(root)).append('\n');
        sh.append("mount -t overlay overlay -o ").append(q("lowerdir=/,upperdir=" + layers + "/upper,workdir="
                + layers + "/work")).append(' ').append(q(root)).append('\n');
        for (String system : List.of("/proc", "/dev", "/sys")) {
            sh.append("mount --rbind ").append(system).append(' ').append(q(root + system)).append('\n');
        }
        // Each target as the container sees it: /var/run/nodemesh is /run/nodemesh there, and "$root/var/run/..."
        // would follow the absolute link out of the container's root onto this machine's /run.
        Map<String, Mount> resolved = new LinkedHashMap<>();
        for (Map.Entry<String, Mount> e : mounts.entrySet()) {
            resolved.put(inRoot(e.getKey()), e.getValue());
        }
        mounts = resolved;
        List<String> targets = mounts.keySet().stream().sorted(Comparator.comparingInt(String::length)).toList();
        for (String target : targets) {
            boolean file = Files.isRegularFile(mounts.get(target).source());
            if (file) {
                sh.append("mkdir -p ").append(q(root + Path.of(target).getParent())).append(" && touch ")
                        .append(q(root + target)).append('\n');
            } else {
                sh.append("mkdir -p ").append(q(root + target)).append('\n');
            }
        }
        SecurityContext sc = c.getSecurityContext();
        if (sc != null && Boolean.TRUE.equals(sc.getReadOnlyRootFilesystem())) {
            // The overlay is this namespace's own superblock: read-only here changes nothing outside.
            sh.append("mount -o remount,ro ").append(q(root)).append('\n');
        }
        for (String target : targets) {
            Mount m = mounts.get(target);
            sh.append("mount --bind ").append(q(m.source().toString())).append(' ').append(q(root + target))
                    .append('\n');
            if (m.readOnly()) {
                sh.append("mount -o remount,bind,ro ").append(q(root + target)).append('\n');
            }
        }
        sh.append("cd ").append(q(root)).append('\n');
        sh.append("exec chroot ").append(q(root)).append(' ').append(setpriv(c, pod)).append(" -- ")
                .append(command.stream().map(ContainerProcess::q).collect(Collectors.joining(" "))).append('\n');
        return sh.toString();
    }

    /** {@code path} with every symbolic link on the way followed within the container's root (this machine's). */
    static String inRoot(String path) throws IOException {
        Deque<String> todo = new ArrayDeque<>(List.of(path.split("/")));
        Path at = Path.of("/");
        int links = 0;
        while (!todo.isEmpty()) {
            String part = todo.pop();
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                at = at.getParent() == null ? at : at.getParent();
                continue;
            }
            Path next = at.resolve(part);
            if (!Files.isSymbolicLink(next)) {
                at = next;
                continue;
            }
            if (++links > 40) {
                throw new IOException(path + ": too many symbolic links");
            }
            String link = Files.readSymbolicLink(next).toString();
            List<String> parts = new ArrayList<>(List.of(link.split("/")));
            java.util.Collections.reverse(parts);
            parts.forEach(todo::push);
            if (link.startsWith("/")) {
                at = Path.of("/");
            }
        }
        return at.toString();
    }

    /** {@code setpriv} with the user, groups and capabilities a runtime gives the container. */
    private static String setpriv(Container c, PodSecurityContext pod) {
        SecurityContext sc = c.getSecurityContext() != null ? c.getSecurityContext() : new SecurityContext();
        long uid = sc.getRunAsUser() != null ? sc.getRunAsUser() : pod.getRunAsUser() != null ? pod.getRunAsUser() : 0;
        long gid = sc.getRunAsGroup() != null ? sc.getRunAsGroup()
                : pod.getRunAsGroup() != null ? pod.getRunAsGroup() : uid == 0 ? 0 : uid;
        TreeSet<Long> groups = new TreeSet<>();
        if (pod.getFsGroup() != null) {
            groups.add(pod.getFsGroup());
        }
        if (pod.getSupplementalGroups() != null) {
            groups.addAll(pod.getSupplementalGroups());
        }
        Capabilities caps = sc.getCapabilities();
        if (caps == null || !List.of("ALL").equals(caps.getDrop())) {
            throw new AssertionError(c.getName() + ": only capabilities with drop: [ALL] are emulated here");
        }
        // Root's capabilities after exec are its bounding set: the added ones, nothing else (no CAP_DAC_OVERRIDE).
        String bounding = "-all" + (caps.getAdd() == null ? "" : caps.getAdd().stream()
                .map(a -> ",+" + a.toLowerCase(Locale.ROOT)).collect(Collectors.joining()));
        List<String> argv = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + gid,
                groups.isEmpty() ? "--clear-groups" : "--groups=" + groups.stream().map(String::valueOf)
                        .collect(Collectors.joining(",")),
                "--bounding-set=" + bounding, "--inh-caps=-all"));
        if (Boolean.FALSE.equals(sc.getAllowPrivilegeEscalation())) {
            argv.add("--no-new-privs");
        }
        return argv.stream().map(ContainerProcess::q).collect(Collectors.joining(" "));
    }

    private static String q(String word) {
        return "'" + word.replace("'", "'\"'\"'") + "'";
    }

    /** Whether it still runs. */
    boolean alive() {
        return process.isAlive();
    }

    /** Whether a line of its output so far (stdout and stderr) contains every one of {@code parts}. */
    boolean logged(String... parts) {
        try (Stream<String> lines = Files.lines(log, StandardCharsets.UTF_8)) {
            return lines.anyMatch(line -> Arrays.stream(parts).allMatch(line::contains));
        } catch (IOException | UncheckedIOException e) {
            return false;
        }
    }

    /** Its output so far (stdout and stderr), for failure messages. */
    String output() {
        try {
            String text = Files.readString(log, StandardCharsets.UTF_8);
            return text.length() > 6000 ? "…" + text.substring(text.length() - 6000) : text;
        } catch (IOException e) {
            return "(no output: " + e.getMessage() + ")";
        }
    }

    /** The process id of the container's program. */
    long pid() {
        return process.pid();
    }

    /** The container's name, as the manifest has it. */
    String name() {
        return name;
    }

    /**
     * What the container's program (the process the runtime started: a JVM, nodemesh-cni-watch or nodemesh-keeper)
     * holds, read once: {@code Rss} and {@code Pss_Anon} in KiB (empty when it is gone or its smaps_rollup cannot be
     * read).
     */
    record Memory(String program, Map<String, Long> kib) {
        /** The resident set in bytes, or -1 when none was read. */
        long rssBytes() {
            Long rss = kib.get("Rss");
            return rss == null ? -1 : rss << 10;
        }

        /** "java: Rss 95.1 MiB, Pss_Anon 70.2 MiB", or why there is nothing. */
        @Override
        public String toString() {
            return program + ": " + (kib.isEmpty() ? "(not running, or its smaps_rollup unreadable)"
                    : kib.entrySet().stream()
                            .map(e -> String.format(Locale.ROOT, "%s %.1f MiB", e.getKey(), e.getValue() / 1024.0))
                            .collect(Collectors.joining(", ")));
        }
    }

    /** The memory of the container's program, now, from {@code /proc/PID/smaps_rollup}. */
    Memory memory() {
        String program = process.info().command().map(c -> Path.of(c).getFileName().toString()).orElse("?");
        Map<String, Long> kib = new LinkedHashMap<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(process.pid()), "smaps_rollup"))) {
                String[] w = line.split("\\s+");
                if (w.length >= 2 && (w[0].equals("Rss:") || w[0].equals("Pss_Anon:"))) {
                    kib.put(w[0].substring(0, w[0].length() - 1), Long.parseLong(w[1]));
                }
            }
        } catch (IOException | RuntimeException e) {
            kib.clear();
        }
        return new Memory(program, kib);
    }

    /** SIGTERM, as the runtime stops a container; the exit status, or null if it still ran after {@code grace}. */
    Integer terminate(long graceSeconds) throws InterruptedException {
        process.destroy();
        return process.waitFor(graceSeconds, TimeUnit.SECONDS) ? process.exitValue() : null;
    }

    /** SIGKILL if it still runs (what the runtime does after the grace period); its mounts go with it. */
    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + ")";
    }
}
