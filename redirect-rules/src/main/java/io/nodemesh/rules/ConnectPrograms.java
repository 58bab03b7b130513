package io.nodemesh.rules;

import io.nodemesh.linux.BpfCode;
import io.nodemesh.linux.BpfCode.Cond;
import io.nodemesh.linux.BpfCode.Size;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The eBPF programs of a {@link CaptureMode#EBPF} capture, made from a plan: {@code connect4} and {@code connect6}
 * (attached to the pod's cgroup at {@code connect()}) send a pod's outbound TCP to the proxy's outbound port on
 * loopback, keeping the destination the application asked for in the origin map under the socket's cookie;
 * {@code sock_ops} (the same cgroup), once such a connection is established, moves that entry to the peer map under
 * the key the proxy can find from its accepted socket: the pod's network namespace cookie and the connection's
 * local address and port as the proxy sees them from the other end. {@code getpeername4} and {@code getpeername6}
 * show the application the destination it asked for instead of the proxy's port on loopback, from the origin map
 * (whose entries stay until the map's least recently used ones make room).
 *
 * <p>What is exempt is the plan's outbound exemptions, as the nft rules have them: loopback and the unspecified
 * address (a connection to the pod itself), the exempt networks and ports. Only sockets of the pod's cgroup run these
 * programs, so the proxy's own sockets in the pod's namespace are never captured (no mark is needed). A connection
 * from an IPv6 socket to an IPv4-mapped address ({@code ::ffff:a.b.c.d}, what a dual-stack socket uses for IPv4, as
 * Java's do) is IPv4 on the wire and is treated as IPv4: IPv4 exemptions, sent to {@code ::ffff:127.0.0.1}.
 *
 * <p>Map layouts (all addresses 16 bytes, IPv4 as {@code ::ffff:a.b.c.d}; ports in network order):
 * origin map: key the socket cookie (8 bytes), value {@link #ORIGIN_BYTES} (address, port, 2 zero bytes);
 * peer map: key {@link #PEER_KEY_BYTES} (the namespace cookie, the client's local address and port, 6 zero bytes),
 * value the origin.
 */
final class ConnectPrograms {

    /** An original destination: address (16), port (2, network order), 2 zero bytes. */
    static final int ORIGIN_BYTES = 20;
    /** The peer map's key: network namespace cookie (8), address (16), port (2, network order), 6 zero bytes. */
    static final int PEER_KEY_BYTES = 32;

    private static final int SOCK_STREAM = 1;
    private static final int IPPROTO_TCP = 6;
    private static final int AF_INET = 2;
    private static final int MAP_LOOKUP = 1;
    private static final int MAP_UPDATE = 2;
    private static final int GET_SOCKET_COOKIE = 46;
    private static final int GET_NETNS_COOKIE = 122;
    private static final int ACTIVE_ESTABLISHED = 4;
    /** {@code ::ffff:0:0/96}'s third word, read little-endian from network order. */
    private static final int MAPPED = 0xffff0000;
    /** 127.0.0.1 read little-endian from network order. */
    private static final int LOOPBACK4 = 0x0100007f;
    /** {@code ::1}'s last word read little-endian from network order. */
    private static final int LOOPBACK6_LAST = 0x01000000;

    // struct bpf_sock_addr
    private static final int SA_IP4 = 4;
    private static final int SA_IP6 = 8;
    private static final int SA_PORT = 24;
    private static final int SA_TYPE = 32;
    private static final int SA_PROTOCOL = 36;
    // struct bpf_sock_ops
    private static final int SO_OP = 0;
    private static final int SO_FAMILY = 20;
    private static final int SO_LOCAL_IP4 = 28;
    private static final int SO_LOCAL_IP6 = 48;
    private static final int SO_LOCAL_PORT = 68;

    private ConnectPrograms() {
    }

    /** {@code connect4}: an IPv4 socket's {@code connect()}. */
    static byte[] connect4(RedirectPlan plan, int originMap) {
        BpfCode c = new BpfCode();
        prologue(c);
        c.load(Size.W, 7, 6, SA_IP4);
        c.load(Size.W, 8, 6, SA_PORT);
        v4Exemptions(c, plan);
        portExemptions(c, plan);
        record(c, originMap, () -> {
            c.mov32(1, 0).store(Size.W, 10, -32, 1).store(Size.W, 10, -28, 1);
            c.mov32(1, MAPPED).store(Size.W, 10, -24, 1).store(Size.W, 10, -20, 7);
        });
        c.mov32(2, LOOPBACK4).store(Size.W, 6, SA_IP4, 2);
        c.mov32(2, portBe(plan.outboundPort())).store(Size.W, 6, SA_PORT, 2);
        return allow(c);
    }

    /** {@code connect6}: an IPv6 socket's {@code connect()}, IPv4-mapped addresses as IPv4. */
    static byte[] connect6(RedirectPlan plan, int originMap) {
        BpfCode c = new BpfCode();
        prologue(c);
        c.load(Size.W, 8, 6, SA_PORT);
        c.load(Size.W, 2, 6, SA_IP6).jump32(Cond.NE, 2, 0, "v6");
        c.load(Size.W, 2, 6, SA_IP6 + 4).jump32(Cond.NE, 2, 0, "v6");
        c.load(Size.W, 2, 6, SA_IP6 + 8).jump32(Cond.NE, 2, MAPPED, "v6");
        if (plan.covers(IpFamily.IPV4)) {
            c.load(Size.W, 7, 6, SA_IP6 + 12);
            v4Exemptions(c, plan);
            portExemptions(c, plan);
            record(c, originMap, () -> copyAddress(c));
            c.mov32(2, LOOPBACK4).store(Size.W, 6, SA_IP6 + 12, 2);
            c.mov32(2, portBe(plan.outboundPort())).store(Size.W, 6, SA_PORT, 2);
        }
        c.jump("allow");
        c.label("v6");
        if (plan.covers(IpFamily.IPV6)) {
            // ::1 and :: (the pod itself)
            c.load(Size.W, 2, 6, SA_IP6).jump32(Cond.NE, 2, 0, "not-local");
            c.load(Size.W, 2, 6, SA_IP6 + 4).jump32(Cond.NE, 2, 0, "not-local");
            c.load(Size.W, 2, 6, SA_IP6 + 8).jump32(Cond.NE, 2, 0, "not-local");
            c.load(Size.W, 2, 6, SA_IP6 + 12).jump32(Cond.EQ, 2, LOOPBACK6_LAST, "allow")
                    .jump32(Cond.EQ, 2, 0, "allow");
            c.label("not-local");
            int n = 0;
            for (Cidr cidr : plan.exemptCidrs(IpFamily.IPV6)) {
                String next = "cidr6-" + n++;
                int[] net = words(cidr);
                int[] mask = maskWords(cidr.prefixLength(), 4);
                for (int w = 0; w < 4 && mask[w] != 0; w++) {
                    c.load(Size.W, 2, 6, SA_IP6 + 4 * w).and32(2, mask[w]).jump32(Cond.NE, 2, net[w], next);
                }
                c.jump("allow").label(next);
            }
            portExemptions(c, plan);
            record(c, originMap, () -> copyAddress(c));
            c.mov32(2, 0).store(Size.W, 6, SA_IP6, 2).store(Size.W, 6, SA_IP6 + 4, 2).store(Size.W, 6, SA_IP6 + 8, 2);
            c.mov32(2, LOOPBACK6_LAST).store(Size.W, 6, SA_IP6 + 12, 2);
            c.mov32(2, portBe(plan.outboundPort())).store(Size.W, 6, SA_PORT, 2);
        }
        return allow(c);
    }

    /**
     * {@code sock_ops}: at {@code ACTIVE_ESTABLISHED} (the client's side of a connection, once the handshake is
     * done, before the proxy can have accepted it), the origin recorded under the socket's cookie is copied to the peer
     * map under (namespace cookie, local address, local port).
     */
    static byte[] sockOps(int originMap, int peerMap) {
        BpfCode c = new BpfCode();
        c.mov64Reg(6, 1);
        c.load(Size.W, 2, 6, SO_OP).jump32(Cond.NE, 2, ACTIVE_ESTABLISHED, "out");
        c.mov64Reg(1, 6).call(GET_SOCKET_COOKIE).store(Size.DW, 10, -8, 0);
        c.loadMap(1, originMap).mov64Reg(2, 10).add64(2, -8).call(MAP_LOOKUP);
        c.jump64(Cond.EQ, 0, 0, "out");
        for (int off = 0; off < ORIGIN_BYTES; off += 4) { // the value to the stack: the origin map's entry goes next
            c.load(Size.W, 2, 0, off).store(Size.W, 10, -64 + off, 2);
        }
        c.mov64Reg(1, 6).call(GET_NETNS_COOKIE).store(Size.DW, 10, -40, 0);
        c.load(Size.W, 2, 6, SO_FAMILY).jump32(Cond.NE, 2, AF_INET, "six");
        c.mov32(2, 0).store(Size.W, 10, -32, 2).store(Size.W, 10, -28, 2);
        c.mov32(2, MAPPED).store(Size.W, 10, -24, 2);
        c.load(Size.W, 2, 6, SO_LOCAL_IP4).store(Size.W, 10, -20, 2);
        c.jump("port");
        c.label("six");
        for (int w = 0; w < 4; w++) {
            c.load(Size.W, 2, 6, SO_LOCAL_IP6 + 4 * w).store(Size.W, 10, -32 + 4 * w, 2);
        }
        c.label("port");
        c.load(Size.W, 2, 6, SO_LOCAL_PORT).toBe16(2).store(Size.W, 10, -16, 2);
        c.mov32(2, 0).store(Size.W, 10, -12, 2);
        c.loadMap(1, peerMap).mov64Reg(2, 10).add64(2, -40).mov64Reg(3, 10).add64(3, -64).mov64(4, 0)
                .call(MAP_UPDATE);
        c.label("out"); // the origin stays for getpeername
        c.mov64(0, 1).exit();
        return c.bytes();
    }

    /**
     * {@code getpeername4}: an IPv4 TCP socket whose peer is the proxy's outbound port on 127.0.0.1 and whose origin
     * is recorded shows that origin instead.
     */
    static byte[] getpeername4(RedirectPlan plan, int originMap) {
        BpfCode c = new BpfCode();
        prologue(c);
        c.load(Size.W, 2, 6, SA_PORT).jump32(Cond.NE, 2, portBe(plan.outboundPort()), "allow");
        c.load(Size.W, 2, 6, SA_IP4).jump32(Cond.NE, 2, LOOPBACK4, "allow");
        lookupOrigin(c, originMap);
        c.load(Size.W, 2, 7, 12).store(Size.W, 6, SA_IP4, 2);
        c.load(Size.W, 2, 7, 16).store(Size.W, 6, SA_PORT, 2);
        return allow(c);
    }

    /**
     * {@code getpeername6}: the same for an IPv6 socket whose peer is the port on {@code ::1} or
     * {@code ::ffff:127.0.0.1}.
     */
    static byte[] getpeername6(RedirectPlan plan, int originMap) {
        BpfCode c = new BpfCode();
        prologue(c);
        c.load(Size.W, 2, 6, SA_PORT).jump32(Cond.NE, 2, portBe(plan.outboundPort()), "allow");
        c.load(Size.W, 2, 6, SA_IP6).jump32(Cond.NE, 2, 0, "allow");
        c.load(Size.W, 2, 6, SA_IP6 + 4).jump32(Cond.NE, 2, 0, "allow");
        c.load(Size.W, 2, 6, SA_IP6 + 8).jump32(Cond.EQ, 2, 0, "v6").jump32(Cond.NE, 2, MAPPED, "allow");
        c.load(Size.W, 2, 6, SA_IP6 + 12).jump32(Cond.NE, 2, LOOPBACK4, "allow").jump("found");
        c.label("v6");
        c.load(Size.W, 2, 6, SA_IP6 + 12).jump32(Cond.NE, 2, LOOPBACK6_LAST, "allow");
        c.label("found");
        lookupOrigin(c, originMap);
        for (int w = 0; w < 4; w++) {
            c.load(Size.W, 2, 7, 4 * w).store(Size.W, 6, SA_IP6 + 4 * w, 2);
        }
        c.load(Size.W, 2, 7, 16).store(Size.W, 6, SA_PORT, 2);
        return allow(c);
    }

    /** {@code r7} = the origin recorded under the socket's cookie; none: {@code allow}. */
    private static void lookupOrigin(BpfCode c, int originMap) {
        c.mov64Reg(1, 6).call(GET_SOCKET_COOKIE).store(Size.DW, 10, -8, 0);
        c.loadMap(1, originMap).mov64Reg(2, 10).add64(2, -8).call(MAP_LOOKUP);
        c.jump64(Cond.EQ, 0, 0, "allow").mov64Reg(7, 0);
    }

    /** {@code r6 = ctx}; not TCP (a stream socket of protocol TCP): allowed as it is. */
    private static void prologue(BpfCode c) {
        c.mov64Reg(6, 1);
        c.load(Size.W, 2, 6, SA_TYPE).jump32(Cond.NE, 2, SOCK_STREAM, "allow");
        c.load(Size.W, 2, 6, SA_PROTOCOL).jump32(Cond.NE, 2, IPPROTO_TCP, "allow");
    }

    /** {@code w7} an IPv4 address: loopback, 0.0.0.0 and the exempt networks go to {@code allow}. */
    private static void v4Exemptions(BpfCode c, RedirectPlan plan) {
        c.mov32Reg(2, 7).and32(2, 0xff).jump32(Cond.EQ, 2, 127, "allow");
        c.jump32(Cond.EQ, 7, 0, "allow");
        for (Cidr cidr : plan.exemptCidrs(IpFamily.IPV4)) {
            int net = words(cidr)[0];
            int mask = maskWords(cidr.prefixLength(), 1)[0];
            c.mov32Reg(2, 7).and32(2, mask).jump32(Cond.EQ, 2, net, "allow");
        }
    }

    /** {@code w8} a port in network order: the exempt ones go to {@code allow}. */
    private static void portExemptions(BpfCode c, RedirectPlan plan) {
        for (int port : plan.exemptOutboundPorts()) {
            c.jump32(Cond.EQ, 8, portBe(port), "allow");
        }
    }

    /** The socket's cookie at fp-8; the origin at fp-32 (address written by {@code address}, port from w8). */
    private static void record(BpfCode c, int originMap, Runnable address) {
        c.mov64Reg(1, 6).call(GET_SOCKET_COOKIE).store(Size.DW, 10, -8, 0);
        address.run();
        c.store(Size.W, 10, -16, 8); // the port in its low 16 bits, then 2 zero bytes
        c.loadMap(1, originMap).mov64Reg(2, 10).add64(2, -8).mov64Reg(3, 10).add64(3, -32).mov64(4, 0)
                .call(MAP_UPDATE);
    }

    /** The IPv6 address of the context to fp-32. */
    private static void copyAddress(BpfCode c) {
        for (int w = 0; w < 4; w++) {
            c.load(Size.W, 1, 6, SA_IP6 + 4 * w).store(Size.W, 10, -32 + 4 * w, 1);
        }
    }

    private static byte[] allow(BpfCode c) {
        c.label("allow");
        c.mov64(0, 1).exit();
        return c.bytes();
    }

    /** A port as the context holds it: network order in the low 16 bits of a little-endian word. */
    static int portBe(int port) {
        return Short.toUnsignedInt(Short.reverseBytes((short) port));
    }

    /** The network address's 32-bit words, each read little-endian from network order. */
    private static int[] words(Cidr cidr) {
        byte[] bytes;
        try {
            bytes = InetAddress.getByName(cidr.address()).getAddress();
        } catch (UnknownHostException e) {
            throw new RulesException("exempt network " + cidr + ": " + e.getMessage(), e);
        }
        int[] mask = maskWords(cidr.prefixLength(), bytes.length / 4);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[bytes.length / 4];
        for (int i = 0; i < out.length; i++) {
            out[i] = b.getInt(4 * i) & mask[i];
        }
        return out;
    }

    /** A prefix's mask as 32-bit words, each read little-endian from network order. */
    private static int[] maskWords(int prefix, int count) {
        byte[] bytes = new byte[4 * count];
        for (int bit = 0; bit < prefix; bit++) {
            bytes[bit / 8] |= (byte) (0x80 >>> (bit % 8));
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = b.getInt(4 * i);
        }
        return out;
    }
}
