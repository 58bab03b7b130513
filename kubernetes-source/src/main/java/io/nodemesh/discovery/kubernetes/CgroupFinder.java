package io.nodemesh.discovery.kubernetes;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Finds a pod's cgroup (v2) directory from its uid, where the kubelet makes it before the pod's sandbox starts (so
 * before the CNI plugin hands its namespace over, and before any of its containers runs): under the systemd driver
 * {@code kubepods.slice/kubepods[-QOS].slice/kubepods[-QOS]-pod<uid, '-' as '_'>.slice}, under the cgroupfs driver
 * {@code kubepods[/QOS]/pod<uid>} (QOS {@code burstable} or {@code besteffort}; guaranteed pods directly under
 * {@code kubepods}). Those six places are looked at first, then the directories pods were found in before, then a
 * walk of the hierarchy four levels deep (a kubelet under a slice of its own, as kind runs it; after a walk that found
 * nothing, none for 10 s). Found directories are remembered; a pod not found is looked for again next time (its
 * cgroup may not be there yet).
 */
public final class CgroupFinder {

    /** Finds nothing: the capture modes other than {@code ebpf} do not need a pod's cgroup. */
    public static final CgroupFinder NONE = new CgroupFinder(null);

    private static final int DEPTH = 4;
    private static final long WALK_PAUSE_NANOS = 10_000_000_000L;
    private static final List<String> QOS = List.of("", "burstable", "besteffort");

    private final Path root;
    private final Map<String, Path> found = new ConcurrentHashMap<>();
    private final Set<Path> parents = ConcurrentHashMap.newKeySet();
    /** When a walk of the hierarchy last found nothing: the next waits {@link #WALK_PAUSE_NANOS}. */
    private volatile long emptyWalk = Long.MIN_VALUE;

    /** A finder under {@code root}, the cgroup v2 hierarchy's mount ({@code /sys/fs/cgroup}, or where it is). */
    public static CgroupFinder under(Path root) {
        return new CgroupFinder(root);
    }

    private CgroupFinder(Path root) {
        this.root = root;
    }

    /** The cgroup directory of the pod with {@code uid}, or null when none is found. */
    public Path find(String uid) {
        if (root == null || uid == null || uid.isBlank()) {
            return null;
        }
        Path known = found.get(uid);
        if (known != null && Files.isDirectory(known)) {
            return known;
        }
        Path dir = look(uid);
        if (dir != null) {
            found.put(uid, dir);
            parents.add(dir.getParent());
        } else {
            found.remove(uid);
        }
        return dir;
    }

    /** Forgets the pods not in {@code uids} (gone from this node). */
    public void retain(Set<String> uids) {
        found.keySet().retainAll(uids);
    }

    private Path look(String uid) {
        String underscored = uid.replace('-', '_');
        for (String qos : QOS) {
            String q = qos.isEmpty() ? "" : "-" + qos;
            Path systemd = root.resolve("kubepods.slice")
                    .resolve(qos.isEmpty() ? "." : "kubepods" + q + ".slice")
                    .resolve("kubepods" + q + "-pod" + underscored + ".slice").normalize();
            if (Files.isDirectory(systemd)) {
                return systemd;
            }
            Path cgroupfs = root.resolve("kubepods").resolve(qos.isEmpty() ? "." : qos).resolve("pod" + uid)
                    .normalize();
            if (Files.isDirectory(cgroupfs)) {
                return cgroupfs;
            }
        }
        Set<String> names = Set.of("pod" + uid, "pod" + underscored + ".slice");
        for (Path parent : parents) {
            try (Stream<Path> children = Files.list(parent)) {
                Path hit = children.filter(p -> matches(p, names)).findFirst().orElse(null);
                if (hit != null) {
                    return hit;
                }
            } catch (IOException gone) {
                parents.remove(parent);
            }
        }
        // A walk for every pod of a snapshot whose cgroups are elsewhere (another root) would cost a walk each: after
        // one that found nothing, the next waits a while.
        long now = System.nanoTime();
        if (emptyWalk != Long.MIN_VALUE && now - emptyWalk < WALK_PAUSE_NANOS) {
            return null;
        }
        Path hit;
        try (Stream<Path> all = Files.walk(root, DEPTH)) {
            hit = all.filter(p -> matches(p, names)).findFirst().orElse(null);
        } catch (IOException | RuntimeException e) {
            hit = null; // a directory removed during the walk: looked for again next time
        }
        emptyWalk = hit == null ? now : Long.MIN_VALUE;
        return hit;
    }

    /** Whether {@code dir}'s name ends with {@code pod<uid>} or {@code pod<uid_>.slice} (after a QoS prefix). */
    private static boolean matches(Path dir, Set<String> names) {
        String name = dir.getFileName().toString();
        for (String n : names) {
            if (name.endsWith(n) && (name.length() == n.length() || name.charAt(name.length() - n.length() - 1) == '-')
                    && Files.isDirectory(dir)) {
                return true;
            }
        }
        return false;
    }
}
