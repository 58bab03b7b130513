package io.nodemesh.proxy.inpod;

import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Finds the network namespace of a pod that is already running, by the pod's IP address.
 *
 * <p>A pod started after the proxy will have its namespace handed over by the CNI plugin (a later issue); a pod that
 * was running before the proxy started, or whose Kubernetes namespace is enrolled in the mesh later, has to be found.
 * istio-cni's node agent finds the namespaces of such pods the same way, by walking {@code /proc}. One {@link #scan()} visits every network
 * namespace of the host once — each {@code /proc/<pid>/ns/net} and each bind mount in {@code /var/run/netns},
 * deduplicated by the namespace's inode — and reads its addresses without forking and, where a process lives in it,
 * without entering it: {@code /proc/<pid>/net/fib_trie} (IPv4, the {@code /32 host LOCAL} entries) and
 * {@code /proc/<pid>/net/if_inet6} (IPv6) show the namespace of that process. A bind-mounted namespace without any
 * process is entered briefly on a scan thread of its own and read through {@code /proc/thread-self/net}.
 *
 * <p>The proxy's own namespace (the host's) is skipped: hostNetwork pods are never captured. Loopback addresses and
 * IPv6 link-local addresses say nothing about a pod and are ignored. An address held by two namespaces is ambiguous
 * and left out ({@link Result#ambiguities()}), never guessed. A process that exits during the scan, or a namespace
 * that cannot be read, is skipped and counted; it never fails the scan.
 *
 * <p>A {@code /proc/<pid>/ns/net} path names the namespace only while that process lives: open it
 * ({@link NetworkNamespace#open}) right after the scan and keep the handle; a bind mount is handed out instead
 * whenever there is one.
 *
 * <p>It runs on the control thread, once per reconcile for all pods still lacking a namespace
 * ({@link Result#findAll}): per process it reads one link, the address files once per namespace. Clarity comes
 * before allocation here; it is not on the data path.
 */
public final class NetnsScanner {

    private static final String HOST_LOCAL = "/32 host LOCAL";

    private final Path proc;
    private final Path netnsDir;

    /** A scanner of this host's {@code /proc} and {@code /var/run/netns}. */
    public NetnsScanner() {
        this(Path.of("/proc"), Path.of("/var/run/netns"));
    }

    /**
     * A scanner of another proc root and bind-mount directory: the host's {@code /proc} mounted elsewhere (a proxy in
     * a pod of its own PID namespace sees only its pod in {@code /proc}), or a fake one (tests).
     */
    public NetnsScanner(Path proc, Path netnsDir) {
        this.proc = proc;
        this.netnsDir = netnsDir;
    }

    /** Scans once and returns the namespace holding {@code address}, if exactly one does. */
    public Optional<Path> find(InetAddress address) {
        return scan().find(address);
    }

    /** Visits every network namespace of the host once and maps each address found to its namespace's path. */
    public Result scan() {
        long start = System.nanoTime();
        Counts counts = new Counts();
        Path self = proc.resolve("self/ns/net");
        long hostInode;
        Object nsfsDevice;
        try {
            // Following the link: the inode and device of the namespace itself (nsfs), not of the link.
            hostInode = (Long) Files.getAttribute(self, "unix:ino");
            nsfsDevice = Files.getAttribute(self, "unix:dev");
        } catch (IOException e) {
            throw new IllegalStateException("cannot read this process's network namespace " + self, e);
        }
        Map<Long, Namespace> byInode = new LinkedHashMap<>();
        collectBindMounts(byInode, hostInode, nsfsDevice, counts);
        collectProcesses(byInode, hostInode, counts);

        List<Addresses> read = new ArrayList<>(byInode.size());
        List<Namespace> toEnter = new ArrayList<>();
        for (Namespace ns : byInode.values()) {
            Addresses addresses = readThroughProcess(ns);
            if (addresses != null) {
                read.add(addresses);
            } else if (ns.bindMount != null) {
                toEnter.add(ns);
            } else {
                counts.unreadable++;
            }
        }
        if (!toEnter.isEmpty()) {
            List<Addresses> entered = enterAndRead(toEnter);
            counts.unreadable += toEnter.size() - entered.size();
            read.addAll(entered);
        }

        Index index = new Index();
        read.forEach(index::add);
        return new Result(Map.copyOf(index.found), Map.copyOf(index.inodes), index.ambiguities(), byInode.size(),
                counts.processes, counts.unreadable, Duration.ofNanos(System.nanoTime() - start));
    }

    /** The namespaces bind-mounted in {@code /var/run/netns} (the way {@code ip netns add} and CNI runtimes keep them). */
    private void collectBindMounts(Map<Long, Namespace> byInode, long hostInode, Object nsfsDevice, Counts counts) {
        if (!Files.isDirectory(netnsDir)) {
            return;
        }
        List<Path> entries = new ArrayList<>();
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(netnsDir)) {
            dir.forEach(entries::add);
        } catch (IOException | DirectoryIteratorException e) {
            counts.unreadable++;
            return;
        }
        entries.sort(null);
        for (Path entry : entries) {
            try {
                // A file left behind by a failed or undone mount is not on nsfs: its inode would name nothing.
                if (!nsfsDevice.equals(Files.getAttribute(entry, "unix:dev"))) {
                    continue;
                }
                long inode = (Long) Files.getAttribute(entry, "unix:ino");
                if (inode != hostInode) {
                    byInode.computeIfAbsent(inode, Namespace::new).bindMount = entry;
                }
            } catch (IOException e) {
                counts.unreadable++;
            }
        }
    }

    /** The namespace of every process, from the text of its {@code ns/net} link: {@code net:[4026531840]}. */
    private void collectProcesses(Map<Long, Namespace> byInode, long hostInode, Counts counts) {
        try (DirectoryStream<Path> dir = Files.newDirectoryStream(proc, NetnsScanner::isPid)) {
            for (Path process : dir) {
                counts.processes++;
                long inode = namespaceInode(process);
                if (inode > 0 && inode != hostInode) {
                    byInode.computeIfAbsent(inode, Namespace::new).pids.add(process);
                }
            }
        } catch (IOException | DirectoryIteratorException e) {
            throw new IllegalStateException("cannot list " + proc, e);
        }
    }

    /** The inode of the network namespace {@code process} is in, or -1 when it exited or cannot be read. */
    private static long namespaceInode(Path process) {
        try {
            String link = Files.readSymbolicLink(process.resolve("ns/net")).toString();
            if (link.startsWith("net:[") && link.endsWith("]")) {
                return Long.parseLong(link, 5, link.length() - 1, 10);
            }
            return -1;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /**
     * The addresses of {@code ns} read through one of its processes, with the path to hand out for it; null when it
     * has no process left that could be read.
     */
    private static Addresses readThroughProcess(Namespace ns) {
        for (Path process : ns.pids) {
            try {
                Set<InetAddress> addresses = addresses(process.resolve("net"));
                // The process may have exited and its pid been reused while we read: only trust what we read if it
                // is still in the same namespace afterwards.
                if (namespaceInode(process) == ns.inode) {
                    return new Addresses(ns.bindMount != null ? ns.bindMount : process.resolve("ns/net"), ns.inode,
                            addresses);
                }
            } catch (IOException e) {
                // exited, or not ours to read: try the next process in the namespace
            }
        }
        return null;
    }

    /**
     * Reads the namespaces no process lives in by entering each in turn, on a thread of its own: the caller may be a
     * virtual thread (which cannot enter), and a thread that fails to come back must not be the control thread. A
     * namespace that cannot be entered or read is left out.
     */
    private static List<Addresses> enterAndRead(List<Namespace> bindMounted) {
        List<Addresses> read = new ArrayList<>(bindMounted.size());
        Thread scan = Thread.ofPlatform().name("nodemesh-netns-scan").start(() -> {
            for (Namespace namespace : bindMounted) {
                try (NetworkNamespace ns = NetworkNamespace.open(namespace.bindMount)) {
                    read.add(new Addresses(namespace.bindMount, namespace.inode,
                            ns.call(() -> addresses(Path.of("/proc/thread-self/net")))));
                } catch (IllegalStateException stuck) {
                    return; // this thread could not come back from the namespace: it must not enter another
                } catch (Exception e) {
                    // unmounted or deleted since it was listed, or unreadable: left out
                }
            }
        });
        boolean interrupted = false;
        while (true) {
            try {
                scan.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        return read;
    }

    /** The IPv4 and IPv6 addresses of the namespace whose {@code net} directory in /proc is {@code net}. */
    private static Set<InetAddress> addresses(Path net) throws IOException {
        Set<InetAddress> addresses = new LinkedHashSet<>();
        localIpv4(Files.readAllBytes(net.resolve("fib_trie")), addresses);
        try {
            ipv6(Files.readAllBytes(net.resolve("if_inet6")), addresses);
        } catch (NoSuchFileException e) {
            if (!Files.isDirectory(net)) {
                throw e; // the process is gone
            }
            // IPv6 is disabled in this namespace
        }
        return addresses;
    }

    /**
     * The local addresses in a {@code fib_trie}: a leaf line {@code |-- 10.0.0.5} followed by {@code /32 host LOCAL}.
     * Both the Main and the Local table are listed; the set keeps each address once. A line this parser does not
     * understand is passed over.
     */
    private static void localIpv4(byte[] fibTrie, Set<InetAddress> into) {
        String leaf = null;
        for (String line : new String(fibTrie, StandardCharsets.US_ASCII).split("\n")) {
            String trimmed = line.strip();
            if (trimmed.startsWith("|-- ")) {
                leaf = trimmed.substring(4);
            } else if (leaf != null && trimmed.equals(HOST_LOCAL)) {
                try {
                    InetAddress address = Inet4Address.ofLiteral(leaf);
                    if (!address.isLoopbackAddress()) {
                        into.add(address);
                    }
                } catch (IllegalArgumentException notAnAddress) {
                    leaf = null;
                }
            } else if (!trimmed.startsWith("/")) {
                leaf = null; // a node (+--) or a table header: the next entries belong to another leaf
            }
        }
    }

    /**
     * The addresses in an {@code if_inet6}: 32 hex digits first on each line ({@code fd0000...00a7 02 80 00 80 eth0}),
     * loopback and link-local left out.
     */
    private static void ipv6(byte[] ifInet6, Set<InetAddress> into) {
        HexFormat hex = HexFormat.of();
        for (String line : new String(ifInet6, StandardCharsets.US_ASCII).split("\n")) {
            try {
                InetAddress address = InetAddress.getByAddress(hex.parseHex(line, 0, 32));
                if (!address.isLoopbackAddress() && !address.isLinkLocalAddress()) {
                    into.add(address);
                }
            } catch (IndexOutOfBoundsException | IllegalArgumentException | UnknownHostException notAnAddress) {
                // a short or foreign line: passed over
            }
        }
    }

    private static boolean isPid(Path entry) {
        String name = entry.getFileName().toString();
        for (int i = 0; i < name.length(); i++) {
            if (name.charAt(i) < '0' || name.charAt(i) > '9') {
                return false;
            }
        }
        return !name.isEmpty();
    }

    private static int compare(InetAddress a, InetAddress b) {
        return Arrays.compareUnsigned(a.getAddress(), b.getAddress());
    }

    /** What one scan found: each address held by exactly one namespace, the ambiguous ones, and what was visited. */
    public record Result(Map<InetAddress, Path> byAddress, Map<Path, Long> inodes, List<Ambiguity> ambiguities,
                         int namespaceCount, int processCount, int unreadableCount, Duration took) {

        /** The namespace holding {@code address}, if exactly one does. */
        public Optional<Path> find(InetAddress address) {
            return Optional.ofNullable(byAddress.get(address));
        }

        /** The namespaces of those of {@code addresses} that exactly one namespace holds. */
        public Map<InetAddress, Path> findAll(Collection<InetAddress> addresses) {
            Map<InetAddress, Path> found = new HashMap<>();
            for (InetAddress address : addresses) {
                Path path = byAddress.get(address);
                if (path != null) {
                    found.put(address, path);
                }
            }
            return found;
        }

        /**
         * Whether {@code path}, as this scan handed it out, still names the namespace the scan read: the same nsfs
         * inode (a namespace keeps its inode while it lives, and no two live ones share one). False once the bind mount
         * is gone or the process has exited, or when a new process has the old one's pid: so a scan taken a moment
         * earlier can be trusted for each path that passes, and only for those.
         */
        public boolean stillNames(Path path) {
            Long inode = inodes.get(path);
            if (inode == null) {
                return false;
            }
            try {
                return inode.equals(Files.getAttribute(path, "unix:ino"));
            } catch (IOException | RuntimeException gone) {
                return false;
            }
        }

        /** One line for the log. */
        @Override
        public String toString() {
            return "scanned " + namespaceCount + " network namespaces of " + processCount + " processes in "
                    + String.format(Locale.ROOT, "%.1f", took.toNanos() / 1e6) + " ms: " + byAddress.size() + " addresses, " + ambiguities.size()
                    + " ambiguous, " + unreadableCount + " unreadable";
        }
    }

    /** An address found in more than one namespace: not handed out, since it could be either pod. */
    public record Ambiguity(InetAddress address, List<Path> namespaces) {}

    /** Addresses to namespaces, keeping out (and listing) every address that more than one namespace holds. */
    private static final class Index {
        final Map<InetAddress, Path> found = new HashMap<>();
        final Map<Path, Long> inodes = new HashMap<>();
        final Map<InetAddress, Set<Path>> ambiguous = new TreeMap<>(NetnsScanner::compare);

        void add(Addresses namespace) {
            inodes.put(namespace.path, namespace.inode);
            for (InetAddress address : namespace.addresses) {
                Set<Path> clash = ambiguous.get(address);
                if (clash != null) {
                    clash.add(namespace.path);
                    continue;
                }
                Path earlier = found.putIfAbsent(address, namespace.path);
                if (earlier != null) {
                    found.remove(address);
                    ambiguous.put(address, new LinkedHashSet<>(List.of(earlier, namespace.path)));
                }
            }
        }

        List<Ambiguity> ambiguities() {
            List<Ambiguity> list = new ArrayList<>(ambiguous.size());
            ambiguous.forEach((address, paths) -> list.add(new Ambiguity(address, List.copyOf(paths))));
            return List.copyOf(list);
        }
    }

    /** One distinct namespace seen during a scan: its inode, its bind mount if any, the processes in it. */
    private static final class Namespace {
        final long inode;
        final List<Path> pids = new ArrayList<>(1);
        Path bindMount;

        Namespace(long inode) {
            this.inode = inode;
        }
    }

    private record Addresses(Path path, long inode, Set<InetAddress> addresses) {}

    private static final class Counts {
        int processes;
        int unreadable;
    }
}
