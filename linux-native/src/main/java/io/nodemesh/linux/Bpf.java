package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * The {@code bpf(2)} commands nodemesh uses, through the FFM API: maps and programs made, programs attached to and
 * detached from a cgroup, links to a network namespace made, updated, detached and pinned in a bpf filesystem, what
 * a cgroup has attached and what a program or link is, and map entries read, set, and read and deleted. Each
 * call's {@code union bpf_attr} is laid out here by its offsets in {@code <linux/bpf.h>} (only the fields used). No
 * process, no library: the programs are bytecode made in Java ({@link BpfCode}).
 *
 * <p>Descriptors returned are the caller's to {@link #close}. Failures are {@link NativeException}s naming the call;
 * a program the verifier refuses carries the verifier's log.
 */
public final class Bpf {

    /** {@code BPF_MAP_TYPE_LRU_HASH}: a hash whose least recently used entries make room for new ones. */
    public static final int MAP_LRU_HASH = 9;
    /** {@code BPF_PROG_TYPE_SOCK_OPS}: called at TCP events of a cgroup's sockets. */
    public static final int PROG_SOCK_OPS = 13;
    /** {@code BPF_PROG_TYPE_CGROUP_SOCK_ADDR}: called at a cgroup's {@code connect()}, {@code bind()}, ... */
    public static final int PROG_CGROUP_SOCK_ADDR = 18;
    /** {@code BPF_CGROUP_SOCK_OPS}. */
    public static final int ATTACH_SOCK_OPS = 3;
    /** {@code BPF_CGROUP_INET4_CONNECT}. */
    public static final int ATTACH_INET4_CONNECT = 10;
    /** {@code BPF_CGROUP_INET6_CONNECT}. */
    public static final int ATTACH_INET6_CONNECT = 11;
    /** {@code BPF_CGROUP_INET4_GETPEERNAME}. */
    public static final int ATTACH_INET4_GETPEERNAME = 29;
    /** {@code BPF_CGROUP_INET6_GETPEERNAME}. */
    public static final int ATTACH_INET6_GETPEERNAME = 30;
    /** {@code BPF_MAP_TYPE_SOCKMAP}: sockets by index (a descriptor in, the socket's cookie out). */
    public static final int MAP_SOCKMAP = 15;
    /** {@code BPF_PROG_TYPE_SK_LOOKUP}: called when the kernel looks for the socket a packet is for. */
    public static final int PROG_SK_LOOKUP = 30;
    /** {@code BPF_SK_LOOKUP}: a network namespace's socket lookup. */
    public static final int ATTACH_SK_LOOKUP = 36;
    /** {@code BPF_F_ALLOW_MULTI}: other programs may be attached beside this one, here and below. */
    public static final int F_ALLOW_MULTI = 1 << 1;
    /** {@code BPF_F_REPLACE}: replace the program given as {@code replace_bpf_fd}, in its place, atomically. */
    public static final int F_REPLACE = 1 << 2;

    private static final int MAP_CREATE = 0;
    private static final int MAP_LOOKUP_ELEM = 1;
    private static final int MAP_UPDATE_ELEM = 2;
    private static final int PROG_LOAD = 5;
    private static final int OBJ_PIN = 6;
    private static final int OBJ_GET = 7;
    private static final int PROG_ATTACH = 8;
    private static final int PROG_DETACH = 9;
    private static final int PROG_GET_FD_BY_ID = 13;
    private static final int MAP_GET_FD_BY_ID = 14;
    private static final int OBJ_GET_INFO_BY_FD = 15;
    private static final int PROG_QUERY = 16;
    private static final int MAP_LOOKUP_AND_DELETE_ELEM = 21;
    private static final int LINK_CREATE = 28;
    private static final int LINK_UPDATE = 29;
    private static final int LINK_DETACH = 34;
    private static final int ATTR_BYTES = 160;
    private static final int NAME_BYTES = 16;
    private static final int LOG_BYTES = 1 << 16;
    private static final int O_DIRECTORY = 0x10000;
    /**
     * How often a program's load is tried while the verifier is interrupted: it gives up with {@code EAGAIN} when a
     * signal arrives for the loading thread (a profiler's, say), and the load is then simply tried again, as libbpf
     * does (five times there).
     */
    private static final int LOAD_TRIES = 10;

    private Bpf() {
    }

    /** A map of {@code type}: its descriptor. {@code name} (at most 15 bytes) is what {@code bpftool} shows. */
    public static int mapCreate(int type, int keySize, int valueSize, int maxEntries, String name) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            attr.set(ValueLayout.JAVA_INT, 0, type);
            attr.set(ValueLayout.JAVA_INT, 4, keySize);
            attr.set(ValueLayout.JAVA_INT, 8, valueSize);
            attr.set(ValueLayout.JAVA_INT, 12, maxEntries);
            putName(attr, 28, name);
            return (int) call(MAP_CREATE, attr, arena, "bpf(BPF_MAP_CREATE " + name + ")");
        }
    }

    /**
     * Loads a GPL program of {@code type} for {@code expectedAttachType} from {@code code} (8 bytes per instruction):
     * its descriptor. A program the verifier refuses is loaded again with the verifier's log, which the exception
     * then carries.
     */
    public static int progLoad(int type, int expectedAttachType, byte[] code, String name) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            MemorySegment insns = arena.allocate(code.length, 8);
            MemorySegment.copy(code, 0, insns, ValueLayout.JAVA_BYTE, 0, code.length);
            MemorySegment license = arena.allocateFrom("GPL");
            attr.set(ValueLayout.JAVA_INT, 0, type);
            attr.set(ValueLayout.JAVA_INT, 4, code.length / 8);
            attr.set(ValueLayout.JAVA_LONG, 8, insns.address());
            attr.set(ValueLayout.JAVA_LONG, 16, license.address());
            putName(attr, 48, name);
            attr.set(ValueLayout.JAVA_INT, 68, expectedAttachType);
            MemorySegment state = arena.allocate(Libc.CALL_STATE);
            long fd = load(attr, state);
            if (fd >= 0) {
                return (int) fd;
            }
            int errno = Libc.errno(state);
            MemorySegment log = arena.allocate(LOG_BYTES);
            attr.set(ValueLayout.JAVA_INT, 24, 1); // log_level
            attr.set(ValueLayout.JAVA_INT, 28, LOG_BYTES);
            attr.set(ValueLayout.JAVA_LONG, 32, log.address());
            fd = load(attr, state);
            if (fd >= 0) { // loaded with a log asked for: keep it, the first failure was transient
                return (int) fd;
            }
            String text = log.getString(0, StandardCharsets.UTF_8).strip();
            int tail = Math.max(0, text.length() - 2000);
            throw Libc.failure("bpf(BPF_PROG_LOAD " + name + ")" + (text.isEmpty() ? "" : "; the verifier: "
                    + text.substring(tail)), errno);
        }
    }

    /** {@code BPF_PROG_LOAD}, tried again while a signal interrupts the verifier ({@link #LOAD_TRIES}). */
    private static long load(MemorySegment attr, MemorySegment state) {
        long fd;
        int tries = 0;
        do {
            fd = invoke(PROG_LOAD, attr, state);
        } while (fd < 0 && Libc.errno(state) == Libc.EAGAIN && ++tries < LOAD_TRIES);
        return fd;
    }

    /** Attaches {@code prog} to {@code cgroup} at {@code attachType}; {@code replace} (or -1) the one it replaces. */
    public static void progAttach(int cgroup, int prog, int attachType, int flags, int replace) throws IOException {
        attachment(PROG_ATTACH, "BPF_PROG_ATTACH", cgroup, prog, attachType, flags, replace < 0 ? 0 : replace);
    }

    /** Detaches {@code prog} from {@code cgroup} at {@code attachType}. */
    public static void progDetach(int cgroup, int prog, int attachType) throws IOException {
        attachment(PROG_DETACH, "BPF_PROG_DETACH", cgroup, prog, attachType, 0, 0);
    }

    /** {@code PROG_ATTACH} or {@code PROG_DETACH}: the same fields, the flags and replaced program attach's only. */
    private static void attachment(int cmd, String name, int cgroup, int prog, int attachType, int flags, int replace)
            throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            attr.set(ValueLayout.JAVA_INT, 0, cgroup);
            attr.set(ValueLayout.JAVA_INT, 4, prog);
            attr.set(ValueLayout.JAVA_INT, 8, attachType);
            attr.set(ValueLayout.JAVA_INT, 12, flags);
            attr.set(ValueLayout.JAVA_INT, 16, replace);
            call(cmd, attr, arena, "bpf(" + name + " type " + attachType + ")");
        }
    }

    /**
     * A link attaching {@code prog} at {@code attachType} to {@code target} (for {@link #ATTACH_SK_LOOKUP}, a network
     * namespace's descriptor): its descriptor. The program stays attached while the link is held, by a descriptor or
     * a pin ({@link #objPin}).
     */
    public static int linkCreate(int prog, int target, int attachType) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            attr.set(ValueLayout.JAVA_INT, 0, prog);
            attr.set(ValueLayout.JAVA_INT, 4, target);
            attr.set(ValueLayout.JAVA_INT, 8, attachType);
            return (int) call(LINK_CREATE, attr, arena, "bpf(BPF_LINK_CREATE type " + attachType + ")");
        }
    }

    /** Puts {@code prog} in the place of the program {@code link} runs, atomically. */
    public static void linkUpdate(int link, int prog) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            attr.set(ValueLayout.JAVA_INT, 0, link);
            attr.set(ValueLayout.JAVA_INT, 4, prog);
            call(LINK_UPDATE, attr, arena, "bpf(BPF_LINK_UPDATE)");
        }
    }

    /** Detaches {@code link}'s program now, whoever else holds the link (a pin, another descriptor). */
    public static void linkDetach(int link) throws IOException {
        first(LINK_DETACH, link, "bpf(BPF_LINK_DETACH)");
    }

    /** Pins the object {@code fd} at {@code path}, a new name in a bpf filesystem: it lives while the name does. */
    public static void objPin(int fd, String path) throws IOException {
        object(OBJ_PIN, "BPF_OBJ_PIN", path, fd);
    }

    /** A descriptor of the object pinned at {@code path}. */
    public static int objGet(String path) throws IOException {
        return (int) object(OBJ_GET, "BPF_OBJ_GET", path, 0);
    }

    /** {@code OBJ_PIN} or {@code OBJ_GET}: the same fields, the object's descriptor pin's only. */
    private static long object(int cmd, String name, String path, int fd) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            attr.set(ValueLayout.JAVA_LONG, 0, arena.allocateFrom(path).address());
            attr.set(ValueLayout.JAVA_INT, 8, fd);
            return call(cmd, attr, arena, "bpf(" + name + " " + path + ")");
        }
    }

    /** Sets {@code map}'s entry of the 4-byte {@code key} to the 8-byte {@code value} (a socket map: a descriptor). */
    public static void mapUpdate(int map, int key, long value) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(ValueLayout.JAVA_LONG);
            v.set(ValueLayout.JAVA_LONG, 0, value);
            call(MAP_UPDATE_ELEM, elementAttr(arena, map, key, v), arena, "bpf(BPF_MAP_UPDATE_ELEM)");
        }
    }

    /**
     * The 8-byte value of {@code map}'s entry of the 4-byte {@code key} (a socket map: the socket's cookie), or
     * {@code empty} when there is none.
     */
    public static long mapLookup(int map, int key, long empty) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment v = arena.allocate(ValueLayout.JAVA_LONG);
            MemorySegment attr = elementAttr(arena, map, key, v);
            MemorySegment state = arena.allocate(Libc.CALL_STATE);
            if (invoke(MAP_LOOKUP_ELEM, attr, state) >= 0) {
                return v.get(ValueLayout.JAVA_LONG, 0);
            }
            int errno = Libc.errno(state);
            if (errno == NativeException.ENOENT) {
                return empty;
            }
            throw Libc.failure("bpf(BPF_MAP_LOOKUP_ELEM)", errno);
        }
    }

    /** The {@code bpf_attr} of a call on {@code map}'s entry of the 4-byte {@code key}, its value in {@code value}. */
    private static MemorySegment elementAttr(Arena arena, int map, int key, MemorySegment value) {
        MemorySegment k = arena.allocate(ValueLayout.JAVA_INT);
        k.set(ValueLayout.JAVA_INT, 0, key);
        MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
        attr.set(ValueLayout.JAVA_INT, 0, map);
        attr.set(ValueLayout.JAVA_LONG, 8, k.address());
        attr.set(ValueLayout.JAVA_LONG, 16, value.address());
        return attr;
    }

    /**
     * What a network namespace's link is: its id, its program's id and the inode of the namespace it is attached to (0
     * once that namespace is gone, or the link detached).
     */
    public record NetnsLinkInfo(int id, int progId, long netnsInode) {
    }

    /** The {@link NetnsLinkInfo} of the link {@code link}. */
    public static NetnsLinkInfo netnsLinkInfo(int link) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(64, 8); // struct bpf_link_info: type, id, prog_id, the union at 16
            info(link, info, arena);
            return new NetnsLinkInfo(info.get(ValueLayout.JAVA_INT, 4), info.get(ValueLayout.JAVA_INT, 8),
                    Integer.toUnsignedLong(info.get(ValueLayout.JAVA_INT, 16)));
        }
    }

    /** The ids of the programs attached to {@code cgroup} itself at {@code attachType}, in the order they run. */
    public static int[] progQuery(int cgroup, int attachType) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            int room = 64;
            MemorySegment ids = arena.allocate(4L * room, 4);
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            attr.set(ValueLayout.JAVA_INT, 0, cgroup);
            attr.set(ValueLayout.JAVA_INT, 4, attachType);
            attr.set(ValueLayout.JAVA_LONG, 16, ids.address());
            attr.set(ValueLayout.JAVA_INT, 24, room);
            call(PROG_QUERY, attr, arena, "bpf(BPF_PROG_QUERY type " + attachType + ")");
            int count = Math.min(room, attr.get(ValueLayout.JAVA_INT, 24));
            return ids.asSlice(0, 4L * count).toArray(ValueLayout.JAVA_INT);
        }
    }

    /** A descriptor of the program with {@code id}. */
    public static int progById(int id) throws IOException {
        return byId(PROG_GET_FD_BY_ID, id, "program");
    }

    /** A descriptor of the map with {@code id}. */
    public static int mapById(int id) throws IOException {
        return byId(MAP_GET_FD_BY_ID, id, "map");
    }

    private static int byId(int cmd, int id, String what) throws IOException {
        return (int) first(cmd, id, "bpf(BPF_" + what.toUpperCase(java.util.Locale.ROOT) + "_GET_FD_BY_ID " + id + ")");
    }

    /** A command whose {@code bpf_attr} is one 32-bit field, {@code value}, first. */
    private static long first(int cmd, int value, String what) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
            attr.set(ValueLayout.JAVA_INT, 0, value);
            return call(cmd, attr, arena, what);
        }
    }

    /** What a loaded program is: its id, name, tag (a hash of its instructions, map references left out) and maps. */
    public record ProgInfo(int id, String name, long tag, int[] mapIds) {
    }

    /** The {@link ProgInfo} of the program {@code prog}. */
    public static ProgInfo progInfo(int prog) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            int room = 16;
            MemorySegment maps = arena.allocate(4L * room, 4);
            MemorySegment info = arena.allocate(256, 8); // struct bpf_prog_info, the fields up to name
            info.set(ValueLayout.JAVA_INT, 52, room); // nr_map_ids
            info.set(ValueLayout.JAVA_LONG, 56, maps.address());
            info(prog, info, arena);
            int count = Math.min(room, info.get(ValueLayout.JAVA_INT, 52));
            String name = info.asSlice(64, NAME_BYTES).getString(0, StandardCharsets.US_ASCII);
            return new ProgInfo(info.get(ValueLayout.JAVA_INT, 4), name, info.get(ValueLayout.JAVA_LONG, 8),
                    maps.asSlice(0, 4L * count).toArray(ValueLayout.JAVA_INT));
        }
    }

    /** What a map is: its id, name, key and value sizes. */
    public record MapInfo(int id, String name, int keySize, int valueSize) {
    }

    /** The {@link MapInfo} of the map {@code map}. */
    public static MapInfo mapInfo(int map) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment info = arena.allocate(96, 8); // struct bpf_map_info, the fields up to name
            info(map, info, arena);
            return new MapInfo(info.get(ValueLayout.JAVA_INT, 4),
                    info.asSlice(24, NAME_BYTES).getString(0, StandardCharsets.US_ASCII),
                    info.get(ValueLayout.JAVA_INT, 8), info.get(ValueLayout.JAVA_INT, 12));
        }
    }

    /** {@code OBJ_GET_INFO_BY_FD}: what the kernel says of the object {@code fd} into {@code info}. */
    private static void info(int fd, MemorySegment info, Arena arena) throws IOException {
        MemorySegment attr = arena.allocate(ATTR_BYTES, 8);
        attr.set(ValueLayout.JAVA_INT, 0, fd);
        attr.set(ValueLayout.JAVA_INT, 4, (int) info.byteSize());
        attr.set(ValueLayout.JAVA_LONG, 8, info.address());
        call(OBJ_GET_INFO_BY_FD, attr, arena, "bpf(BPF_OBJ_GET_INFO_BY_FD)");
    }

    /**
     * Reads the entry of {@code key} into {@code value} and deletes it, in one call: 0, or the errno
     * ({@link NativeException#ENOENT}: no such entry). {@code attr} is the caller's scratch of at least 32 bytes,
     * {@code state} a {@link #callState}: nothing is allocated (this runs once per accepted connection).
     */
    public static int lookupAndDelete(int map, MemorySegment key, MemorySegment value, MemorySegment attr,
            MemorySegment state) {
        attr.set(ValueLayout.JAVA_INT, 0, map);
        attr.set(ValueLayout.JAVA_INT, 4, 0);
        attr.set(ValueLayout.JAVA_LONG, 8, key.address());
        attr.set(ValueLayout.JAVA_LONG, 16, value.address());
        attr.set(ValueLayout.JAVA_LONG, 24, 0L);
        return invoke(MAP_LOOKUP_AND_DELETE_ELEM, attr, 32, state) >= 0 ? 0 : Libc.errno(state);
    }

    /** A segment for a call's errno, for {@link #lookupAndDelete}. */
    public static MemorySegment callState(Arena arena) {
        return arena.allocate(Libc.CALL_STATE);
    }

    /** A descriptor of the cgroup (v2) directory {@code path}, to attach to. */
    public static int openCgroup(String path) throws IOException {
        return Libc.open(path, Libc.O_RDONLY | O_DIRECTORY | Libc.O_CLOEXEC);
    }

    /** Closes a descriptor this class returned. */
    public static void close(int fd) {
        Libc.close(fd);
    }

    private static void putName(MemorySegment attr, long offset, String name) {
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        if (bytes.length >= NAME_BYTES) {
            throw new IllegalArgumentException("a bpf object's name has at most 15 bytes: " + name);
        }
        MemorySegment.copy(bytes, 0, attr, ValueLayout.JAVA_BYTE, offset, bytes.length);
    }

    private static long call(int cmd, MemorySegment attr, Arena arena, String what) throws IOException {
        MemorySegment state = arena.allocate(Libc.CALL_STATE);
        long rc = invoke(cmd, attr, state);
        if (rc < 0) {
            throw Libc.failure(what, Libc.errno(state));
        }
        return rc;
    }

    private static long invoke(int cmd, MemorySegment attr, MemorySegment state) {
        return invoke(cmd, attr, (int) attr.byteSize(), state);
    }

    private static long invoke(int cmd, MemorySegment attr, int size, MemorySegment state) {
        return Libc.syscall(state, Libc.SYS_BPF, cmd, attr.address(), size);
    }
}
