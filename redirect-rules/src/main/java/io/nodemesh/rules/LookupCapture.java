package io.nodemesh.rules;

import io.nodemesh.linux.Bpf;
import io.nodemesh.linux.BpfCode;
import io.nodemesh.linux.BpfCode.Cond;
import io.nodemesh.linux.BpfCode.Size;
import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.SocketOptions;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The inbound half of a {@link CaptureMode#EBPF} capture: an {@code sk_lookup} program on the pod's network namespace
 * hands inbound TCP to the proxy's inbound listener when the kernel looks for the socket a connection is for, before
 * any listener of the pod's apps is considered. No netfilter hook, no rewrite, nothing tracked: the accepted socket's
 * own local address is the original destination, as under {@code tproxy}.
 *
 * <p>What is let through to the pod's own sockets, as the other captures' rules have it: the pod's own connections
 * (the proxy's to the pod's apps among them), which are those from the address they are sent to, or sent to loopback;
 * the plan's exempt inbound ports (the proxy's own among them); a family the plan does not capture; anything but TCP.
 * (Not by the interface the lookup is given as the packet's: a connection of the pod to its own address, which
 * comes in through {@code lo}, was not given {@code lo}'s index in {@code LookupCaptureTest}, and was captured.)
 *
 * <p>Each pod has its own program and a one-entry socket map that holds the proxy's inbound listener. The program's
 * link is pinned in a bpf filesystem ({@code <bpffs>/nodemesh/inbound-<namespace inode>}), so it outlives the proxy,
 * like the cgroup programs and nft rules: while no proxy listens, the map is empty (the kernel takes a closed socket
 * out) and the program drops the connection, which is refused (fail closed, as in the other modes) rather than
 * reaching the app around the proxy. A restarted proxy puts its new listener in the pinned program's map
 * ({@link #listen}) before anything else, keeps the program when it is the plan's (by the kernel's tag) and replaces
 * it in place otherwise ({@code BPF_LINK_UPDATE}). A pin whose namespace is gone is removed by {@link #sweep}.
 *
 * <p>Errors are {@link RulesException}s naming the namespace and the kernel's reason. Thread-safe.
 */
public final class LookupCapture implements AutoCloseable {

    static final String PROG_NAME = "nodemesh_inbnd";
    static final String MAP_NAME = "nodemesh_listen";
    private static final String PIN_PREFIX = "inbound-";
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int IPPROTO_TCP = 6;
    /** 127.0.0.0/8's first byte, as the low byte of a word read little-endian from network order. */
    private static final int LOOPBACK4_NET = 127;
    /** {@code ::1}'s last word read little-endian from network order. */
    private static final int LOOPBACK6_LAST = 0x01000000;
    private static final int MAP_LOOKUP = 1;
    private static final int SK_RELEASE = 86;
    private static final int SK_ASSIGN = 124;
    // struct bpf_sk_lookup
    private static final int SL_FAMILY = 8;
    private static final int SL_PROTOCOL = 12;
    private static final int SL_REMOTE_IP4 = 16;
    private static final int SL_REMOTE_IP6 = 20;
    private static final int SL_LOCAL_IP4 = 40;
    private static final int SL_LOCAL_IP6 = 44;
    private static final int SL_LOCAL_PORT = 60;

    private final Path bpffs;
    private final Path dir;
    /** The socket maps of pods this proxy made or took over, by namespace inode. */
    private final Map<Long, Integer> maps = new HashMap<>();
    /**
     * The kernel's tag of each plan's program, by its instructions with no map: the tag leaves map references out, so
     * a pod whose program is in place is checked without loading one (a restart's common case).
     */
    private final Map<ByteBuffer, Long> tags = new HashMap<>();
    /** The inode each namespace path had when last seen, for a removal after the namespace is gone. */
    private final Map<Path, Long> inodes = new HashMap<>();
    /**
     * The id of the link seen last on each namespace (by inode): a removal after the namespace is gone detaches only
     * that one, not a new namespace's that has the same inode now.
     */
    private final Map<Long, Integer> linkIds = new HashMap<>();
    private boolean ready;
    private boolean closed;

    private LookupCapture(Path bpffs) {
        this.bpffs = bpffs;
        this.dir = bpffs.resolve("nodemesh");
    }

    /** A capture pinning its programs under {@code bpffs}: a bpf filesystem's mount point, e.g. {@code /sys/fs/bpf}. */
    public static LookupCapture open(Path bpffs) {
        return new LookupCapture(bpffs);
    }

    /** The bpf filesystem this capture pins in. */
    public Path bpffs() {
        return bpffs;
    }

    /** The program for {@code plan}, reading the socket map {@code map} (its descriptor). */
    static byte[] program(RedirectPlan plan, int map) {
        BpfCode c = new BpfCode();
        c.mov64Reg(6, 1);
        c.load(Size.W, 2, 6, SL_PROTOCOL).jump32(Cond.NE, 2, IPPROTO_TCP, "pass");
        if (!plan.covers(IpFamily.IPV4) || !plan.covers(IpFamily.IPV6)) {
            c.load(Size.W, 2, 6, SL_FAMILY)
                    .jump32(Cond.NE, 2, plan.covers(IpFamily.IPV4) ? AF_INET : AF_INET6, "pass");
        }
        // The pod's own connections: from the address they are sent to, or to loopback.
        c.load(Size.W, 2, 6, SL_FAMILY).jump32(Cond.NE, 2, AF_INET, "v6");
        c.load(Size.W, 2, 6, SL_LOCAL_IP4).load(Size.W, 3, 6, SL_REMOTE_IP4).jump32Reg(Cond.EQ, 2, 3, "pass");
        c.and32(2, 0xff).jump32(Cond.EQ, 2, LOOPBACK4_NET, "pass");
        c.jump("ports");
        c.label("v6");
        for (int w = 0; w < 4; w++) {
            c.load(Size.W, 2, 6, SL_LOCAL_IP6 + 4 * w).load(Size.W, 3, 6, SL_REMOTE_IP6 + 4 * w)
                    .jump32Reg(Cond.NE, 2, 3, "not-self");
        }
        c.jump("pass");
        c.label("not-self");
        for (int w = 0; w < 3; w++) {
            c.load(Size.W, 2, 6, SL_LOCAL_IP6 + 4 * w).jump32(Cond.NE, 2, 0, "ports");
        }
        c.load(Size.W, 2, 6, SL_LOCAL_IP6 + 12).jump32(Cond.EQ, 2, LOOPBACK6_LAST, "pass");
        c.label("ports");
        c.load(Size.W, 7, 6, SL_LOCAL_PORT);
        for (int port : plan.exemptInboundPorts()) {
            c.jump32(Cond.EQ, 7, port, "pass");
        }
        c.mov32(2, 0).store(Size.W, 10, -4, 2);
        c.loadMap(1, map).mov64Reg(2, 10).add64(2, -4).call(MAP_LOOKUP);
        c.jump64(Cond.EQ, 0, 0, "drop"); // no listener: refused, not let through to the app
        c.mov64Reg(7, 0);
        c.mov64Reg(1, 6).mov64Reg(2, 7).mov64(3, 0).call(SK_ASSIGN);
        c.mov64Reg(8, 0);
        c.mov64Reg(1, 7).call(SK_RELEASE);
        c.jump64(Cond.NE, 8, 0, "drop");
        c.label("pass").mov64(0, 1).exit(); // SK_PASS: the listener assigned above, or the usual lookup
        c.label("drop").mov64(0, 0).exit(); // SK_DROP
        return c.bytes();
    }

    /**
     * Makes the program on the namespace at {@code netns} exactly the plan's: KEPT when it was, APPLIED when there was
     * none, REPLACED otherwise. Its map is the one {@link #listen} filled, if it did; else an empty one, filled when
     * the proxy listens.
     */
    public synchronized RuleEngine.Installed install(RedirectPlan plan, Path netns) {
        ensureReady();
        Pin pin = pinned(netns);
        int link = pin.link();
        int prog = -1;
        try {
            if (link >= 0) {
                Bpf.ProgInfo live = program(pin);
                int map = mapOf(pin, live);
                if (live.tag() == wantedTag(plan, map, netns)) {
                    return RuleEngine.Installed.KEPT;
                }
                prog = load(plan, map, netns);
                Bpf.linkUpdate(link, prog);
                return RuleEngine.Installed.REPLACED;
            }
            int map = maps.computeIfAbsent(pin.ino(), i -> newMap(netns));
            prog = load(plan, map, netns);
            try (NetworkNamespace ns = NetworkNamespace.open(netns)) {
                link = Bpf.linkCreate(prog, ns.fd(), Bpf.ATTACH_SK_LOOKUP);
            }
            Bpf.objPin(link, pin.path().toString());
            linkIds.put(pin.ino(), Bpf.netnsLinkInfo(link).id());
            return RuleEngine.Installed.APPLIED;
        } catch (IOException e) {
            throw new RulesException("cannot attach " + PROG_NAME + " to " + netns + ": " + e.getMessage(), e);
        } finally {
            if (prog >= 0) {
                Bpf.close(prog);
            }
            if (link >= 0) {
                Bpf.close(link); // the pin holds it
            }
        }
    }

    /**
     * Puts {@code listener} (a listening TCP socket in the namespace at {@code netns}, dual-stack or of the plan's
     * family) in the pod's socket map, in place of any listener before it: from now on the pod's inbound connections
     * come to it. Whether the pod's program is already attached (a restarted proxy's case); if not, {@link #install}
     * attaches one reading this map.
     */
    public synchronized boolean listen(Path netns, int listener) {
        ensureReady();
        Pin pin = pinned(netns);
        try {
            int map = pin.link() >= 0 ? mapOf(pin) : maps.computeIfAbsent(pin.ino(), i -> newMap(netns));
            Bpf.mapUpdate(map, 0, listener);
            return pin.link() >= 0;
        } catch (IOException e) {
            throw new RulesException("cannot put the inbound listener in " + MAP_NAME + " of " + netns + ": "
                    + e.getMessage(), e);
        } finally {
            pin.close();
        }
    }

    /**
     * Whether {@code listener} is the socket the pod's program hands inbound connections to: a listener an ebpf
     * capture made, handed over by the proxy before this one. False where the pod has no program.
     */
    public synchronized boolean holds(Path netns, int listener) {
        if (!Files.isDirectory(dir) || !Files.exists(netns)) {
            return false;
        }
        Pin pin = pinned(netns);
        if (pin.link() < 0) {
            return false;
        }
        try {
            return Bpf.mapLookup(mapOf(pin), 0, 0) == SocketOptions.cookie(listener);
        } catch (IOException e) {
            throw new RulesException("cannot read " + MAP_NAME + " of " + netns + ": " + e.getMessage(), e);
        } finally {
            pin.close();
        }
    }

    /**
     * Detaches the pod's program and removes its pin; whether there was one. Once the namespace is gone (its path
     * too), only the link this capture saw on it is detached: the pin of a new namespace with the same inode is left.
     */
    public synchronized boolean remove(Path netns) {
        if (netns == null || !Files.isDirectory(dir)) {
            return false; // no pin anywhere (a node whose proxies never captured by ebpf)
        }
        boolean gone = !Files.exists(netns);
        Long ino = gone ? inodes.get(netns) : Long.valueOf(inode(netns)); // gone: the inode it had
        if (ino == null) {
            return false;
        }
        Integer map = maps.remove(ino);
        if (map != null) {
            Bpf.close(map);
        }
        inodes.remove(netns);
        Integer seen = linkIds.remove(ino);
        Path pin = pinPath(ino);
        if (!Files.exists(pin)) {
            return false;
        }
        try {
            int link = Bpf.objGet(pin.toString());
            try {
                if (gone && (seen == null || Bpf.netnsLinkInfo(link).id() != seen)) {
                    return false;
                }
                Bpf.linkDetach(link);
            } finally {
                Bpf.close(link);
            }
            Files.deleteIfExists(pin);
            return true;
        } catch (IOException e) {
            throw new RulesException("cannot detach " + PROG_NAME + " from " + netns + " (" + pin + "): "
                    + e.getMessage(), e);
        }
    }

    /**
     * The pod's program against the plan's, changing nothing: place {@code netns PATH}, one line, {@code
     * nodemesh_inbnd (the plan's)} or {@code (another plan's)}, and whether a listener is in its map is not looked at.
     */
    public synchronized CheckResult check(RedirectPlan plan, Path netns) {
        String place = "netns " + netns;
        List<String> live = new ArrayList<>();
        if (Files.isDirectory(dir)) {
            Pin pin = pinned(netns);
            if (pin.link() >= 0) {
                try {
                    Bpf.ProgInfo program = program(pin);
                    boolean plans = program.tag() == wantedTag(plan, mapOf(pin, program), netns);
                    live.add(PROG_NAME + (plans ? " (the plan's)" : " (another plan's)"));
                } catch (IOException e) {
                    throw new RulesException("cannot read " + pin.path() + ": " + e.getMessage(), e);
                } finally {
                    pin.close();
                }
            }
        }
        return CheckResult.compare("ebpf", !live.isEmpty(), Map.of(place, List.of(PROG_NAME + " (the plan's)")),
                Map.of(place, live));
    }

    /**
     * Removes the pins whose network namespace is gone (their programs detached with it): a pod deleted while no proxy
     * ran. How many. Each pin is looked at and removed under this capture's lock, so that an {@link #install} never
     * sees a pin half-way (a new namespace can have a gone one's inode, whose pin install then replaces); between
     * pins the lock is free, and captures go on while a sweep runs.
     */
    public int sweep() {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        int removed = 0;
        try (DirectoryStream<Path> pins = Files.newDirectoryStream(dir, PIN_PREFIX + "*")) {
            for (Path pin : pins) {
                if (sweep(pin)) {
                    removed++;
                }
            }
        } catch (IOException e) {
            throw new RulesException("cannot list " + dir + ": " + e.getMessage(), e);
        }
        return removed;
    }

    /** Removes {@code pin} if its namespace is gone; whether it did. */
    private synchronized boolean sweep(Path pin) {
        int link;
        try {
            link = Bpf.objGet(pin.toString());
        } catch (IOException e) {
            return false; // removed meanwhile
        }
        try {
            if (Bpf.netnsLinkInfo(link).netnsInode() == 0) {
                return Files.deleteIfExists(pin);
            }
            return false;
        } catch (IOException e) {
            return false; // another kind of object, or unreadable: left alone
        } finally {
            Bpf.close(link);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        maps.values().forEach(Bpf::close);
        maps.clear();
    }

    /**
     * Checks once that {@link #bpffs} is a bpf filesystem, makes {@code nodemesh/} in it and starts a {@link #sweep}
     * of it.
     */
    private void ensureReady() {
        if (ready) {
            return;
        }
        String type;
        try {
            type = Files.getFileStore(bpffs).type();
        } catch (IOException e) {
            throw new RulesException("capture ebpf pins its inbound programs in a bpf filesystem, and " + bpffs
                    + " cannot be read: " + e.getMessage() + " (mount one: mount -t bpf bpf " + bpffs + ")", e);
        }
        if (!type.equals("bpf")) {
            throw new RulesException("capture ebpf pins its inbound programs in a bpf filesystem, and " + bpffs
                    + " is not one (it is on a " + type + " filesystem; mount one: mount -t bpf bpf " + bpffs + ")");
        }
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new RulesException("cannot make " + dir + ": " + e.getMessage(), e);
        }
        ready = true;
        // Off the capture's path: a restarted proxy's pods listen again without waiting for it (500 pins: ~50 ms).
        Thread.ofVirtual().name("nodemesh-bpffs-sweep").start(() -> {
            try {
                sweep();
            } catch (RulesException e) {
                // said again by the capture that needs the directory
            }
        });
    }

    private Path pinPath(long ino) {
        return dir.resolve(PIN_PREFIX + ino);
    }

    private long inode(Path netns) {
        try {
            long ino = (Long) Files.getAttribute(netns, "unix:ino");
            inodes.put(netns, ino);
            return ino;
        } catch (IOException | RuntimeException e) {
            throw new RulesException("network namespace " + netns + ": " + e.getMessage(), e);
        }
    }

    /**
     * A pod's pin: its namespace's inode, the pin's path, and the link pinned there (a descriptor to {@link #close},
     * -1 for none) with its program's id, read once.
     */
    private record Pin(long ino, Path path, int link, int progId) {
        void close() {
            if (link >= 0) {
                Bpf.close(link);
            }
        }
    }

    /**
     * The pin of the namespace at {@code netns}, with its link if one is pinned for that namespace. A pin of a
     * namespace that is gone (whose inode a new one now has) is removed.
     */
    private Pin pinned(Path netns) {
        long ino = inode(netns);
        Path path = pinPath(ino);
        if (!Files.exists(path)) {
            return new Pin(ino, path, -1, 0);
        }
        try {
            int link = Bpf.objGet(path.toString());
            Bpf.NetnsLinkInfo info = Bpf.netnsLinkInfo(link);
            if (info.netnsInode() == ino) {
                linkIds.put(ino, info.id());
                return new Pin(ino, path, link, info.progId());
            }
            Bpf.close(link);
            Files.deleteIfExists(path);
            return new Pin(ino, path, -1, 0);
        } catch (IOException e) {
            throw new RulesException("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /** What the program {@code pin}'s link runs is: its tag and maps. */
    private static Bpf.ProgInfo program(Pin pin) throws IOException {
        int prog = Bpf.progById(pin.progId());
        try {
            return Bpf.progInfo(prog);
        } finally {
            Bpf.close(prog);
        }
    }

    /** The socket map of the program {@code pin}'s link runs, taken over if this capture has none for the pod yet. */
    private int mapOf(Pin pin) throws IOException {
        Integer known = maps.get(pin.ino());
        return known != null ? known : mapOf(pin, program(pin));
    }

    /** {@link #mapOf(Pin)}, the program ({@code live}) already read. */
    private int mapOf(Pin pin, Bpf.ProgInfo live) throws IOException {
        Integer known = maps.get(pin.ino());
        if (known != null) {
            return known;
        }
        for (int id : live.mapIds()) {
            int map = Bpf.mapById(id);
            if (Bpf.mapInfo(map).name().equals(MAP_NAME)) {
                maps.put(pin.ino(), map);
                return map;
            }
            Bpf.close(map);
        }
        throw new NativeException("the program pinned at " + pin.path() + " has no map " + MAP_NAME, 0);
    }

    private static int newMap(Path netns) {
        try {
            return Bpf.mapCreate(Bpf.MAP_SOCKMAP, 4, 8, 1, MAP_NAME);
        } catch (IOException e) {
            throw new RulesException("cannot make " + MAP_NAME + " for " + netns + ": " + e.getMessage(), e);
        }
    }

    private static int load(RedirectPlan plan, int map, Path netns) {
        try {
            return Bpf.progLoad(Bpf.PROG_SK_LOOKUP, Bpf.ATTACH_SK_LOOKUP, program(plan, map), PROG_NAME);
        } catch (IOException e) {
            throw new RulesException("cannot load " + PROG_NAME + " for " + netns + ": " + e.getMessage(), e);
        }
    }

    /** The tag of the plan's program: loaded once per plan (with {@code map}, which the tag leaves out). */
    private long wantedTag(RedirectPlan plan, int map, Path netns) throws IOException {
        ByteBuffer key = ByteBuffer.wrap(program(plan, 0));
        Long tag = tags.get(key);
        if (tag == null) {
            int prog = load(plan, map, netns);
            try {
                tag = Bpf.progInfo(prog).tag();
            } finally {
                Bpf.close(prog);
            }
            tags.put(key, tag);
        }
        return tag;
    }
}
