package io.nodemesh.testing;

import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import io.nodemesh.topology.Topology;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension that owns throw-away network namespaces, veth pairs and bridges for a test.
 * Everything made during a test method is removed after it, everything made in {@code @BeforeAll}
 * after the class, and anything left by a crashed earlier run is swept on start. Register it with
 * {@code @RegisterExtension static final NetnsExtension net = new NetnsExtension();}.
 *
 * <p>Without root, Linux, {@code ip} or {@code nsenter} the tests are skipped with the reason,
 * unless the environment sets {@code NODEMESH_REQUIRE_NETNS=1} (CI does): then they fail.
 */
public final class NetnsExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {

    /** Every namespace this JVM creates starts with this: {@code nmt<pid>-<random>-}. */
    public static final String PREFIX = "nmt" + ProcessHandle.current().pid() + "-"
            + Integer.toHexString(new SecureRandom().nextInt(0x1000, 0x10000)) + "-";
    private static final String FAMILY = "nmt";
    private static final Object SWEEP_LOCK = new Object();
    private static boolean swept;
    private static Path bpffs;

    private final Deque<Topology> scopes = new ArrayDeque<>();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(NetnsExtension::removeOwnLeftovers, "netns-cleanup"));
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        requireCapabilities();
        sweepDeadRuns();
        push();
    }

    @Override
    public void beforeEach(ExtensionContext context) {
        push();
    }

    @Override
    public void afterEach(ExtensionContext context) {
        pop();
    }

    @Override
    public void afterAll(ExtensionContext context) {
        pop();
    }

    /** Creates a namespace named {@code PREFIX<n>-<label>} with its loopback up. */
    public Netns namespace(String label) {
        return current().namespace(label);
    }

    /**
     * Skips the calling test where no cgroup v2 hierarchy is mounted (what the eBPF capture attaches to), unless the
     * environment sets {@code NODEMESH_REQUIRE_NETNS=1} (CI does): then it fails.
     */
    public static void requireCgroupV2() {
        if (io.nodemesh.topology.Cgroup.root() == null) {
            missing("the eBPF capture tests", "a cgroup v2 hierarchy", "no cgroup v2 hierarchy is mounted");
        }
    }

    /**
     * A bpf filesystem of this JVM's own, where {@code capture: ebpf} pins its inbound programs: mounted at the first
     * call ({@code <tmp>/PREFIX bpffs}), unmounted at exit, its pins with it. Where it cannot be mounted the calling
     * test is skipped, or under {@code NODEMESH_REQUIRE_NETNS=1} fails.
     */
    public static synchronized Path bpffs() {
        if (bpffs == null) {
            Path dir = Path.of(System.getProperty("java.io.tmpdir"), PREFIX + "bpffs");
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                missing("the eBPF capture tests", "a bpf filesystem", "cannot make " + dir + ": " + e.getMessage());
            }
            var mounted = Commands.run("mount", "-t", "bpf", "bpf", dir.toString());
            if (!mounted.ok()) {
                dir.toFile().delete();
                missing("the eBPF capture tests", "a bpf filesystem", "mount -t bpf failed: " + mounted.describe());
            }
            bpffs = dir;
        }
        return bpffs;
    }

    /** Creates a cgroup (v2) named {@code PREFIX<n>-<label>}, removed with the namespaces. */
    public io.nodemesh.topology.Cgroup cgroup(String label) {
        return current().cgroup(label);
    }

    /** Creates a "node": a namespace holding an up bridge {@code br0} that pods attach to. */
    public Lan lan(String label) {
        return current().lan(label);
    }

    private synchronized Topology current() {
        Topology s = scopes.peek();
        if (s == null) {
            throw new IllegalStateException("NetnsExtension is not active: register it with @RegisterExtension on a static field");
        }
        return s;
    }

    private synchronized void push() {
        scopes.push(new Topology(PREFIX));
    }

    private void pop() {
        Topology s;
        synchronized (this) {
            s = scopes.poll();
        }
        if (s != null) {
            s.close();
        }
    }

    private static void requireCapabilities() {
        String missing = missingCapability();
        if (missing != null) {
            missing("network-namespace tests", "root on Linux with ip and nsenter", missing);
        }
    }

    /** {@code tests} lack what they {@code needs}, {@code why}: failed under NODEMESH_REQUIRE_NETNS=1, else skipped. */
    private static void missing(String tests, String needs, String why) {
        if ("1".equals(System.getenv("NODEMESH_REQUIRE_NETNS"))) {
            throw new AssertionError(tests + " must run here (NODEMESH_REQUIRE_NETNS=1) but " + why);
        }
        Assumptions.abort("skipped: needs " + needs + ", but " + why);
    }

    private static String missingCapability() {
        if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
            return "this is " + System.getProperty("os.name");
        }
        try {
            String status = Files.readString(Path.of("/proc/self/status"));
            boolean root = status.lines().anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[2].equals("0"));
            if (!root) {
                return "the tests do not run as root";
            }
        } catch (IOException e) {
            return "cannot read /proc/self/status";
        }
        for (String tool : List.of("ip", "nsenter")) {
            if (!Commands.run("sh", "-c", "command -v " + tool).ok()) {
                return tool + " is not installed";
            }
        }
        return null;
    }

    /** Removes namespaces left by earlier test JVMs that died before cleaning up. */
    private static void sweepDeadRuns() {
        synchronized (SWEEP_LOCK) {
            if (swept) {
                return;
            }
            swept = true;
            for (String name : listNamespaces()) {
                if (!name.startsWith(FAMILY) || name.startsWith(PREFIX)) {
                    continue;
                }
                String pid = name.substring(FAMILY.length(), Math.max(FAMILY.length(), name.indexOf('-')));
                if (pid.chars().allMatch(Character::isDigit) && !pid.isEmpty()
                        && ProcessHandle.of(Long.parseLong(pid)).isEmpty()) {
                    Commands.run("ip", "netns", "del", name);
                }
            }
            Path tmp = Path.of(System.getProperty("java.io.tmpdir"));
            try (var dirs = Files.list(tmp)) {
                for (Path dir : dirs.toList()) {
                    String name = dir.getFileName().toString();
                    if (!name.startsWith(FAMILY) || !name.endsWith("-bpffs") || name.startsWith(PREFIX)) {
                        continue;
                    }
                    String pid = name.substring(FAMILY.length(), name.indexOf('-'));
                    if (!pid.isEmpty() && pid.chars().allMatch(Character::isDigit)
                            && ProcessHandle.of(Long.parseLong(pid)).isEmpty()) {
                        unmount(dir);
                    }
                }
            } catch (IOException e) {
                // nothing to sweep there
            }
        }
    }

    private static void unmount(Path dir) {
        Commands.run("umount", "-l", dir.toString());
        dir.toFile().delete();
    }

    private static void removeOwnLeftovers() {
        synchronized (NetnsExtension.class) {
            if (bpffs != null) {
                unmount(bpffs);
            }
        }
        for (String name : listNamespaces()) {
            if (name.startsWith(PREFIX)) {
                Commands.run("ip", "netns", "del", name);
            }
        }
        Path cgroups = io.nodemesh.topology.Cgroup.root();
        if (cgroups != null) {
            try (var dirs = Files.list(cgroups)) {
                dirs.filter(d -> d.getFileName().toString().startsWith(PREFIX)).forEach(d -> d.toFile().delete());
            } catch (IOException e) {
                // best effort at exit
            }
        }
    }

    private static List<String> listNamespaces() {
        List<String> names = new ArrayList<>();
        for (String line : Commands.run("ip", "netns", "list").stdout().split("\n")) {
            String name = line.trim().split("\\s+")[0];
            if (!name.isEmpty()) {
                names.add(name);
            }
        }
        return names;
    }

}
