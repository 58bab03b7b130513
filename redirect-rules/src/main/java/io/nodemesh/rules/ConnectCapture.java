package io.nodemesh.rules;

import io.nodemesh.linux.Bpf;
import io.nodemesh.linux.NativeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link CaptureMode#EBPF} capture: its outbound half here, {@link ConnectPrograms} attached to pods' cgroups (v2)
 * and the lookup of a captured connection's original destination; its inbound half, {@link #inbound()}, an
 * {@code sk_lookup} program on each pod's network namespace ({@link LookupCapture}). One per proxy (node-wide): the
 * two maps are shared by every pod's programs (the origin map keyed by socket cookies, the peer map by the pod's
 * network namespace cookie and the client's address), and programs made from equal plans are loaded once.
 *
 * <p>Attachments outlive the proxy, like nft rules: a restarted proxy finds its predecessor's programs on a pod's
 * cgroup, adopts their maps (so connections captured meanwhile are still found) and keeps programs equal to its own
 * (the same instructions, by the kernel's tag, and the same maps), replacing others in place ({@code BPF_F_REPLACE}:
 * never an instant without capture). {@code sock_ops} goes in before the {@code connect} programs and comes out after
 * them, so no connection is sent to the proxy without its origin being recorded. Other programs on the cgroup
 * (another tool's) are left as they are and run beside nodemesh's ({@code BPF_F_ALLOW_MULTI}).
 *
 * <p>Errors are {@link RulesException}s naming the cgroup and the kernel's reason. Thread-safe.
 */
public final class ConnectCapture implements AutoCloseable {

    static final String ORIGIN_MAP = "nodemesh_origin";
    static final String PEER_MAP = "nodemesh_peer";
    private static final String PREFIX = "nodemesh_";
    /** Also what {@code getpeername} reads for a connection's life: room for that many recent connections. */
    private static final int ORIGIN_ENTRIES = 65536;
    private static final int PEER_ENTRIES = 32768;
    private static final ValueLayout.OfShort PORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** The hooks, in the order they go in. */
    private enum Hook {
        SOCK_OPS("nodemesh_sockop", Bpf.PROG_SOCK_OPS, Bpf.ATTACH_SOCK_OPS),
        CONNECT4("nodemesh_conn4", Bpf.PROG_CGROUP_SOCK_ADDR, Bpf.ATTACH_INET4_CONNECT),
        CONNECT6("nodemesh_conn6", Bpf.PROG_CGROUP_SOCK_ADDR, Bpf.ATTACH_INET6_CONNECT),
        PEERNAME4("nodemesh_peer4", Bpf.PROG_CGROUP_SOCK_ADDR, Bpf.ATTACH_INET4_GETPEERNAME),
        PEERNAME6("nodemesh_peer6", Bpf.PROG_CGROUP_SOCK_ADDR, Bpf.ATTACH_INET6_GETPEERNAME);

        final String progName;
        final int type;
        final int attach;

        Hook(String progName, int type, int attach) {
            this.progName = progName;
            this.type = type;
            this.attach = attach;
        }
    }

    /** A loaded program: its descriptor and tag. */
    private record Loaded(int fd, long tag) {
    }

    private int originMap = -1;
    /** Read by the proxy's event loops ({@link #originalDestination}) without the lock; set once, under it. */
    private volatile int peerMap = -1;
    private int originMapId;
    private int peerMapId;
    /** Programs loaded so far, by hook and instructions (a {@link ByteBuffer} compares its contents). */
    private final Map<Map.Entry<Hook, ByteBuffer>, Loaded> loaded = new HashMap<>();
    private final LookupCapture inbound;
    private boolean closed;

    /**
     * A capture with no maps yet (they are adopted or made at the first {@link #install}), whose inbound half pins its
     * programs in the bpf filesystem {@code bpffs}.
     */
    public static ConnectCapture open(Path bpffs) {
        return new ConnectCapture(LookupCapture.open(bpffs));
    }

    /** {@link #open(Path)} on {@code /sys/fs/bpf}, where systemd mounts the bpf filesystem. */
    public static ConnectCapture open() {
        return open(Path.of("/sys/fs/bpf"));
    }

    private ConnectCapture(LookupCapture inbound) {
        this.inbound = inbound;
    }

    /** The inbound half: the pods' {@code sk_lookup} programs. */
    public LookupCapture inbound() {
        return inbound;
    }

    /**
     * Makes nodemesh's programs on {@code cgroup} exactly the plan's (as the class comment says): KEPT when they
     * were, APPLIED when there were none, REPLACED otherwise.
     */
    public synchronized RuleEngine.Installed install(RedirectPlan plan, Path cgroup) {
        int fd = openCgroup(cgroup);
        Map<Hook, List<Attached>> found = new HashMap<>();
        try {
            survey(fd, cgroup, found);
            boolean none = found.values().stream().allMatch(List::isEmpty);
            boolean changed = false;
            for (Hook hook : Hook.values()) {
                changed |= ensure(fd, hook, wanted(plan, hook), found.get(hook), cgroup);
            }
            return !changed ? RuleEngine.Installed.KEPT
                    : none ? RuleEngine.Installed.APPLIED : RuleEngine.Installed.REPLACED;
        } finally {
            found.values().forEach(ConnectCapture::close);
            Bpf.close(fd);
        }
    }

    /** Detaches nodemesh's programs from {@code cgroup} ({@code connect} first); whether there were any. */
    public synchronized boolean remove(Path cgroup) {
        int fd = openCgroup(cgroup);
        try {
            boolean any = false;
            for (Hook hook : List.of(Hook.CONNECT4, Hook.CONNECT6, Hook.SOCK_OPS, Hook.PEERNAME4, Hook.PEERNAME6)) {
                for (Attached prog : nodemeshPrograms(fd, hook, cgroup)) {
                    try {
                        Bpf.progDetach(fd, prog.fd(), hook.attach);
                        any = true;
                    } catch (IOException e) {
                        throw new RulesException("cannot detach " + hook.progName + " from cgroup " + cgroup + ": "
                                + e.getMessage(), e);
                    } finally {
                        Bpf.close(prog.fd());
                    }
                }
            }
            return any;
        } finally {
            Bpf.close(fd);
        }
    }

    /**
     * nodemesh's programs on {@code cgroup} against the plan's, changing nothing attached (the plan's programs are
     * loaded to compare their tags): place {@code cgroup PATH}, one line per program, {@code NAME (the plan's)} or
     * {@code NAME (another plan's)}.
     */
    public synchronized CheckResult check(RedirectPlan plan, Path cgroup) {
        int fd = openCgroup(cgroup);
        Map<Hook, List<Attached>> found = new HashMap<>();
        try {
            survey(fd, cgroup, found);
            String place = "cgroup " + cgroup;
            List<String> expected = new ArrayList<>();
            List<String> live = new ArrayList<>();
            boolean present = false;
            for (Hook hook : Hook.values()) {
                Loaded want = wanted(plan, hook);
                if (want != null) {
                    expected.add(hook.progName + " (the plan's)");
                }
                for (Attached prog : found.get(hook)) {
                    present = true;
                    boolean plans = want != null && same(prog, want);
                    live.add(hook.progName + (plans ? " (the plan's)" : " (another plan's)"));
                }
            }
            return CheckResult.compare("ebpf", present, Map.of(place, expected), Map.of(place, live));
        } finally {
            found.values().forEach(ConnectCapture::close);
            Bpf.close(fd);
        }
    }

    /** The names of nodemesh's programs attached to {@code cgroup}, one line per hook that has one. */
    public synchronized List<String> attached(Path cgroup) {
        int fd = openCgroup(cgroup);
        try {
            List<String> out = new ArrayList<>();
            for (Hook hook : Hook.values()) {
                List<Attached> progs = nodemeshPrograms(fd, hook, cgroup);
                progs.forEach(prog -> out.add(hook.progName));
                close(progs);
            }
            return out;
        } finally {
            Bpf.close(fd);
        }
    }

    /** A thread's key, value and call buffers for {@link #originalDestination}. */
    private record Scratch(MemorySegment key, MemorySegment value, MemorySegment attr, MemorySegment state) {
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(() -> {
        Arena arena = Arena.ofAuto();
        return new Scratch(arena.allocate(ConnectPrograms.PEER_KEY_BYTES, 8),
                arena.allocate(ConnectPrograms.ORIGIN_BYTES, 8), arena.allocate(32, 8), Bpf.callState(arena));
    });

    /**
     * The destination a pod's connection asked for, taken out of the peer map: {@code netnsCookie} the pod's network
     * namespace, {@code peer} the accepted socket's remote address (the client's local one); null when no captured
     * connection has that key (not captured by these programs, or already taken). One {@code bpf()} call, no native
     * allocation.
     */
    public InetSocketAddress originalDestination(long netnsCookie, InetSocketAddress peer) throws IOException {
        int map = peerMap;
        if (map < 0) {
            return null;
        }
        Scratch s = SCRATCH.get();
        MemorySegment key = s.key;
        key.fill((byte) 0);
        key.set(ValueLayout.JAVA_LONG, 0, netnsCookie);
        byte[] addr = peer.getAddress().getAddress();
        if (addr.length == 4) {
            key.set(ValueLayout.JAVA_SHORT_UNALIGNED, 18, (short) -1);
            MemorySegment.copy(addr, 0, key, ValueLayout.JAVA_BYTE, 20, 4);
        } else {
            MemorySegment.copy(addr, 0, key, ValueLayout.JAVA_BYTE, 8, 16);
        }
        key.set(PORT, 24, (short) peer.getPort());
        int errno = Bpf.lookupAndDelete(map, key, s.value, s.attr, s.state);
        if (errno == NativeException.ENOENT) {
            return null;
        }
        if (errno != 0) {
            throw new IOException("bpf(BPF_MAP_LOOKUP_AND_DELETE_ELEM " + PEER_MAP + "): errno " + errno);
        }
        return origin(s.value);
    }

    /** An origin value ({@link ConnectPrograms#ORIGIN_BYTES}) as an address, IPv4-mapped ones as IPv4. */
    static InetSocketAddress origin(MemorySegment value) throws UnknownHostException {
        byte[] addr = value.asSlice(0, 16).toArray(ValueLayout.JAVA_BYTE);
        int port = Short.toUnsignedInt(value.get(PORT, 16));
        InetAddress a = InetAddress.getByAddress(addr); // a mapped address comes back as an Inet4Address
        if (!(a instanceof Inet4Address) && isMapped(addr)) {
            a = InetAddress.getByAddress(Arrays.copyOfRange(addr, 12, 16));
        }
        return new InetSocketAddress(a, port);
    }

    private static boolean isMapped(byte[] a) {
        for (int i = 0; i < 10; i++) {
            if (a[i] != 0) {
                return false;
            }
        }
        return a[10] == (byte) 0xff && a[11] == (byte) 0xff;
    }

    /**
     * Takes over the maps of the programs already on {@code cgroup}, if this capture has none yet, changing nothing
     * there: what a proxy that takes over or restarts does before its listeners accept, since those programs send
     * connections to them already and record where they were going in those maps. Nothing for a cgroup without
     * nodemesh's programs (its connections are not sent anywhere yet); {@link #install} makes the maps then.
     */
    public synchronized void adopt(Path cgroup) {
        if (originMap >= 0) {
            return;
        }
        int fd = openCgroup(cgroup);
        List<Attached> found = List.of();
        try {
            found = nodemeshPrograms(fd, Hook.SOCK_OPS, cgroup);
            adoptMaps(found);
        } catch (IOException e) {
            throw new RulesException("cannot read the maps of cgroup " + cgroup + "'s programs: " + e.getMessage(), e);
        } finally {
            close(found);
            Bpf.close(fd);
        }
    }

    /** The peer map's id, for tests and diagnostics; 0 before the first {@link #install}. */
    public synchronized int peerMapId() {
        return peerMapId;
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        inbound.close();
        loaded.values().forEach(l -> Bpf.close(l.fd()));
        loaded.clear();
        int o = originMap;
        int p = peerMap;
        originMap = peerMap = -1;
        if (o >= 0) {
            Bpf.close(o);
        }
        if (p >= 0) {
            Bpf.close(p);
        }
    }

    /**
     * Fills {@code found} with nodemesh's programs on the cgroup, per hook (the caller closes them),
     * and adopts their maps if this capture has none yet (or makes them).
     */
    private void survey(int fd, Path cgroup, Map<Hook, List<Attached>> found) {
        for (Hook hook : Hook.values()) {
            found.put(hook, nodemeshPrograms(fd, hook, cgroup));
        }
        if (originMap < 0) {
            adoptOrCreateMaps(found, cgroup);
        }
    }

    /** The program the plan wants at {@code hook}, loaded (once per distinct program); null for none. */
    private Loaded wanted(RedirectPlan plan, Hook hook) {
        byte[] code = switch (hook) {
            case SOCK_OPS -> ConnectPrograms.sockOps(originMap, peerMap);
            case CONNECT4 -> plan.covers(IpFamily.IPV4) ? ConnectPrograms.connect4(plan, originMap) : null;
            case CONNECT6 -> ConnectPrograms.connect6(plan, originMap);
            case PEERNAME4 -> plan.covers(IpFamily.IPV4) ? ConnectPrograms.getpeername4(plan, originMap) : null;
            case PEERNAME6 -> ConnectPrograms.getpeername6(plan, originMap);
        };
        if (code == null) {
            return null;
        }
        Map.Entry<Hook, ByteBuffer> key = Map.entry(hook, ByteBuffer.wrap(code));
        Loaded l = loaded.get(key);
        if (l == null) {
            try {
                int fd = Bpf.progLoad(hook.type, hook.attach, code, hook.progName);
                l = new Loaded(fd, Bpf.progInfo(fd).tag());
            } catch (IOException e) {
                throw new RulesException("cannot load " + hook.progName + ": " + e.getMessage(), e);
            }
            loaded.put(key, l);
        }
        return l;
    }

    /**
     * Makes the nodemesh programs at {@code hook} exactly {@code want} (or none): whether anything changed. One equal
     * to it (same tag, same maps) is kept; else the first found is replaced in place; extras are detached.
     */
    private boolean ensure(int cgroup, Hook hook, Loaded want, List<Attached> found, Path path) {
        try {
            Attached keep = null;
            if (want != null) {
                for (Attached prog : found) {
                    if (same(prog, want)) {
                        keep = prog;
                        break;
                    }
                }
            }
            boolean changed = false;
            List<Attached> rest = new ArrayList<>(found);
            if (want != null && keep == null) {
                if (rest.isEmpty()) {
                    Bpf.progAttach(cgroup, want.fd(), hook.attach, Bpf.F_ALLOW_MULTI, -1);
                } else {
                    Attached old = rest.removeFirst();
                    Bpf.progAttach(cgroup, want.fd(), hook.attach, Bpf.F_ALLOW_MULTI | Bpf.F_REPLACE, old.fd());
                }
                changed = true;
            } else if (keep != null) {
                rest.remove(keep);
            }
            for (Attached prog : rest) {
                Bpf.progDetach(cgroup, prog.fd(), hook.attach);
                changed = true;
            }
            return changed;
        } catch (IOException e) {
            throw new RulesException("cannot attach " + hook.progName + " to cgroup " + path + ": " + e.getMessage(),
                    e);
        }
    }

    private boolean same(Attached prog, Loaded want) {
        if (prog.info().tag() != want.tag()) {
            return false;
        }
        for (int id : prog.info().mapIds()) {
            if (id != originMapId && id != peerMapId) {
                return false;
            }
        }
        return true;
    }

    /** An attached program: its descriptor (its finder closes it) and what it is, read once. */
    private record Attached(int fd, Bpf.ProgInfo info) {
    }

    private static void close(List<Attached> programs) {
        programs.forEach(prog -> Bpf.close(prog.fd()));
    }

    /** nodemesh's programs (by name) attached to the cgroup at {@code hook}; the caller closes them. */
    private static List<Attached> nodemeshPrograms(int cgroup, Hook hook, Path path) {
        List<Attached> out = new ArrayList<>();
        try {
            for (int id : Bpf.progQuery(cgroup, hook.attach)) {
                int prog;
                try {
                    prog = Bpf.progById(id);
                } catch (IOException e) {
                    continue; // detached and freed since the query
                }
                Bpf.ProgInfo info;
                try {
                    info = Bpf.progInfo(prog);
                } catch (IOException e) {
                    Bpf.close(prog);
                    throw e;
                }
                if (info.name().startsWith(PREFIX)) {
                    out.add(new Attached(prog, info));
                } else {
                    Bpf.close(prog);
                }
            }
            return out;
        } catch (IOException e) {
            close(out);
            throw new RulesException("cannot list the programs of cgroup " + path + ": " + e.getMessage(), e);
        }
    }

    /** The maps of a predecessor's programs found on this cgroup, or new ones. */
    private void adoptOrCreateMaps(Map<Hook, List<Attached>> found, Path cgroup) {
        try {
            if (adoptMaps(found.get(Hook.SOCK_OPS))) {
                return;
            }
            int origin = Bpf.mapCreate(Bpf.MAP_LRU_HASH, 8, ConnectPrograms.ORIGIN_BYTES, ORIGIN_ENTRIES, ORIGIN_MAP);
            int peer;
            try {
                peer = Bpf.mapCreate(Bpf.MAP_LRU_HASH, ConnectPrograms.PEER_KEY_BYTES, ConnectPrograms.ORIGIN_BYTES,
                        PEER_ENTRIES, PEER_MAP);
            } catch (IOException e) {
                Bpf.close(origin);
                throw e;
            }
            setMaps(origin, peer);
        } catch (IOException e) {
            throw new RulesException("cannot make the capture's maps (cgroup " + cgroup + "): " + e.getMessage(), e);
        }
    }

    /** Takes the maps of the first of the {@code sock_ops} programs {@code sockOps} that has both; whether one had. */
    private boolean adoptMaps(List<Attached> sockOps) throws IOException {
        for (Attached prog : sockOps) {
            int origin = -1;
            int peer = -1;
            for (int id : prog.info().mapIds()) {
                int map = Bpf.mapById(id);
                Bpf.MapInfo info = Bpf.mapInfo(map);
                if (info.name().equals(ORIGIN_MAP) && info.valueSize() == ConnectPrograms.ORIGIN_BYTES
                        && origin < 0) {
                    origin = map;
                } else if (info.name().equals(PEER_MAP)
                        && info.keySize() == ConnectPrograms.PEER_KEY_BYTES && peer < 0) {
                    peer = map;
                } else {
                    Bpf.close(map);
                }
            }
            if (origin >= 0 && peer >= 0) {
                setMaps(origin, peer);
                return true;
            }
            if (origin >= 0) {
                Bpf.close(origin);
            }
            if (peer >= 0) {
                Bpf.close(peer);
            }
        }
        return false;
    }

    private void setMaps(int origin, int peer) throws IOException {
        originMap = origin;
        peerMap = peer;
        originMapId = Bpf.mapInfo(origin).id();
        peerMapId = Bpf.mapInfo(peer).id();
    }

    private static int openCgroup(Path cgroup) {
        try {
            return Bpf.openCgroup(cgroup.toString());
        } catch (IOException e) {
            throw new RulesException("cgroup " + cgroup + ": " + e.getMessage(), e);
        }
    }
}
