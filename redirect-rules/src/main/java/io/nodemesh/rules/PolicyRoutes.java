package io.nodemesh.rules;

import io.nodemesh.linux.NetlinkSocket;
import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A {@link CaptureMode#TPROXY} capture's policy routing in a pod's network namespace, over rtnetlink from the calling
 * thread (no {@code ip} process): per family the plan covers, the rule {@code fwmark MARK/MASK lookup TABLE pref
 * }{@value #PRIORITY} and the route {@code local default dev lo table TABLE}, so that outbound packets the rules
 * marked are delivered locally, where nft's {@code tproxy} gives them to the proxy's listener.
 *
 * <p>Both carry nodemesh's routing protocol number {@value #PROTOCOL} ({@code FRA_PROTOCOL}, {@code rtm_protocol}), by
 * which {@link #remove} finds them and nothing else. Errors are {@link RulesException}s naming the namespace, what
 * the kernel refused and why. Needs a platform thread (entering a namespace moves the thread) and CAP_NET_ADMIN there.
 */
final class PolicyRoutes implements AutoCloseable {

    /** The rule's preference: after the {@code local} table's rule (0), before {@code main}'s (32766). */
    static final int PRIORITY = 32764;
    /** nodemesh's routing protocol number, on its rules and routes (unassigned in iproute2's {@code rt_protos}). */
    static final int PROTOCOL = 0x4e;

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int NETLINK_ROUTE = 0;
    private static final int HEADER = 16;
    private static final int NLMSG_ERROR = 2;
    private static final int NLMSG_DONE = 3;
    private static final int NLM_F_REQUEST = 0x1;
    private static final int NLM_F_ACK = 0x4;
    private static final int NLM_F_DUMP = 0x300;
    private static final int NLM_F_EXCL = 0x200;
    private static final int NLM_F_CREATE = 0x400;
    private static final int RTM_NEWROUTE = 24;
    private static final int RTM_DELROUTE = 25;
    private static final int RTM_GETROUTE = 26;
    private static final int RTM_NEWRULE = 32;
    private static final int RTM_DELRULE = 33;
    private static final int RTM_GETRULE = 34;
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;
    private static final int FR_ACT_TO_TBL = 1;
    private static final int FRA_PRIORITY = 6;
    private static final int FRA_FWMARK = 10;
    private static final int FRA_TABLE = 15;
    private static final int FRA_FWMASK = 16;
    private static final int FRA_PROTOCOL = 21;
    private static final int RTA_OIF = 4;
    private static final int RTA_TABLE = 15;
    private static final int RT_SCOPE_HOST = 254;
    private static final int RTN_LOCAL = 2;
    /** The loopback device's index in every network namespace. */
    private static final int LOOPBACK_IFINDEX = 1;
    private static final int EEXIST = 17;
    private static final int ENOENT = 2;
    private static final int ESRCH = 3;

    private final Path netns;
    private final NetlinkSocket socket;
    private int seq;

    private PolicyRoutes(Path netns, NetlinkSocket socket) {
        this.netns = netns;
        this.socket = socket;
    }

    /** A session on the routing of the namespace at {@code netns}. */
    static PolicyRoutes in(Path netns) {
        NetnsRunner.requireNamespace(netns);
        try (NetworkNamespace ns = NetworkNamespace.open(netns)) {
            return new PolicyRoutes(netns, ns.call(() -> NetlinkSocket.open(NETLINK_ROUTE, TIMEOUT)));
        } catch (RulesException e) {
            throw e;
        } catch (Exception e) {
            throw new RulesException("cannot open a netlink socket to the routing of network namespace " + netns
                    + ": " + e.getMessage(), e);
        }
    }

    /** One rule or route of nodemesh's, as found or wanted: its family, mark, mask and table. */
    record Entry(IpFamily family, boolean rule, int mark, int mask, int table) {
        /** The line {@code rules check} shows for it, in {@code ip}'s words. */
        String line() {
            String f = family == IpFamily.IPV4 ? "ipv4" : "ipv6";
            return rule
                    ? f + " rule pref " + PRIORITY + " fwmark 0x" + Integer.toHexString(mark) + "/0x"
                            + Integer.toHexString(mask) + " lookup " + Integer.toUnsignedString(table)
                    : f + " route local default dev lo table " + Integer.toUnsignedString(table);
        }
    }

    /** The rules and routes {@code plan} wants (none unless it is a TPROXY plan). */
    static List<Entry> wanted(RedirectPlan plan) {
        List<Entry> out = new ArrayList<>();
        if (plan.capture() != CaptureMode.TPROXY) {
            return out;
        }
        for (IpFamily family : plan.families()) {
            out.add(new Entry(family, true, plan.tproxyMark(), plan.markMask(), plan.routeTable()));
            out.add(new Entry(family, false, 0, 0, plan.routeTable()));
        }
        return out;
    }

    /**
     * Adds what the plan wants and is not there, and returns nodemesh's others (another mark or table), for
     * {@link #delete} once the table that may still mark packets for them is gone. One read ({@link #live}: two dumps,
     * which change nothing, so a restarted proxy's pods in sync cost no write); one added meanwhile by someone else is
     * kept (the kernel says EEXIST). The additions go in one datagram, one acknowledgement per entry back.
     */
    List<Entry> ensure(RedirectPlan plan) {
        List<Entry> have = live();
        List<Entry> missing = wanted(plan);
        List<Entry> others = new ArrayList<>(have);
        others.removeAll(missing);
        missing.removeAll(have);
        send(missing, true);
        return others;
    }

    /** Deletes {@code entries}; one gone meanwhile is gone (ENOENT for a rule, ESRCH for a route). */
    void delete(List<Entry> entries) {
        send(entries, false);
    }

    /**
     * Removes every rule and route of nodemesh's (by its protocol number) in both families; whether there was any.
     * One dump of rules and one of routes, then one datagram of deletions.
     */
    boolean remove() {
        List<Entry> found = live();
        delete(found);
        return !found.isEmpty();
    }

    /** Adds ({@code add}) or deletes {@code entries} in one datagram; nothing for none. */
    private void send(List<Entry> entries, boolean add) {
        if (entries.isEmpty()) {
            return;
        }
        ByteBuffer out = buffer(entries.size());
        int first = seq + 1;
        for (Entry e : entries) {
            message(out, e, add ? (e.rule() ? RTM_NEWRULE : RTM_NEWROUTE) : (e.rule() ? RTM_DELRULE : RTM_DELROUTE),
                    add ? NLM_F_CREATE | NLM_F_EXCL : 0);
        }
        acknowledged(out, first, entries, add ? EEXIST : ENOENT, add ? "add" : "delete");
    }

    /** nodemesh's rules and routes in this namespace, both families, by their protocol number. */
    List<Entry> live() {
        List<Entry> found = new ArrayList<>();
        dump(RTM_GETRULE, found);
        dump(RTM_GETROUTE, found);
        return found;
    }

    /**
     * The plan's rules and routes against the live ones, for {@link CheckResult}: place {@code policy routing}, one
     * line each ({@link Entry#line}); both maps empty for a plan that wants none and a namespace that has none.
     */
    static Map<String, List<String>> lines(List<Entry> entries) {
        Map<String, List<String>> out = new TreeMap<>();
        for (Entry e : entries) {
            out.computeIfAbsent("policy routing", k -> new ArrayList<>()).add(e.line());
        }
        out.values().forEach(l -> l.sort(null));
        return out;
    }

    private void dump(int type, List<Entry> found) {
        ByteBuffer out = buffer(1);
        int at = out.position();
        int requestSeq = ++seq;
        out.putInt(0).putShort((short) type).putShort((short) (NLM_F_REQUEST | NLM_F_DUMP)).putInt(requestSeq)
                .putInt(0);
        out.put(new byte[12]); // family 0 (all), everything else 0: rtmsg and fib_rule_hdr are both 12 bytes
        out.putInt(at, out.position() - at);
        send(out);
        while (true) {
            ByteBuffer in = receive();
            for (int m = in.position(); m + HEADER <= in.limit(); ) {
                int length = in.getInt(m);
                int mtype = in.getShort(m + 4) & 0xffff;
                if (length < HEADER) {
                    break;
                }
                if (in.getInt(m + 8) == requestSeq) {
                    if (mtype == NLMSG_DONE) {
                        return;
                    }
                    if (mtype == NLMSG_ERROR) {
                        int errno = -in.getInt(m + HEADER);
                        if (errno == 0) {
                            return;
                        }
                        throw refused(type == RTM_GETRULE ? "listing the rules" : "listing the routes", errno);
                    }
                    Entry e = mtype == RTM_NEWRULE ? rule(in, m, length) : mtype == RTM_NEWROUTE ? route(in, m, length)
                            : null;
                    if (e != null) {
                        found.add(e);
                    }
                }
                m += (length + 3) & ~3;
            }
        }
    }

    /** A dumped rule of nodemesh's (by protocol), or null. */
    private static Entry rule(ByteBuffer in, int m, int length) {
        IpFamily family = family(in.get(m + HEADER) & 0xff);
        int end = m + length;
        int attrs = m + HEADER + 12;
        Integer protocol = u8(in, attrs, end, FRA_PROTOCOL);
        if (family == null || protocol == null || protocol != PROTOCOL) {
            return null;
        }
        Integer table = u32(in, attrs, end, FRA_TABLE);
        Integer mark = u32(in, attrs, end, FRA_FWMARK);
        Integer mask = u32(in, attrs, end, FRA_FWMASK);
        return new Entry(family, true, mark == null ? 0 : mark, mask == null ? -1 : mask,
                table == null ? in.get(m + HEADER + 4) & 0xff : table);
    }

    /** A dumped route of nodemesh's (by protocol), or null. */
    private static Entry route(ByteBuffer in, int m, int length) {
        IpFamily family = family(in.get(m + HEADER) & 0xff);
        int protocol = in.get(m + HEADER + 5) & 0xff;
        if (family == null || protocol != PROTOCOL) {
            return null;
        }
        Integer table = u32(in, m + HEADER + 12, m + length, RTA_TABLE);
        return new Entry(family, false, 0, 0, table == null ? in.get(m + HEADER + 4) & 0xff : table);
    }

    /** Appends one request for {@code e} of {@code type} to {@code out}, asking for an acknowledgement. */
    private void message(ByteBuffer out, Entry e, int type, int flags) {
        int at = out.position();
        out.putInt(0).putShort((short) type).putShort((short) (NLM_F_REQUEST | NLM_F_ACK | flags)).putInt(++seq)
                .putInt(0);
        int family = e.family() == IpFamily.IPV4 ? AF_INET : AF_INET6;
        int smallTable = Integer.compareUnsigned(e.table(), 256) < 0 ? e.table() : 0;
        if (e.rule()) {
            // fib_rule_hdr: family, dst_len, src_len, tos, table, res1, res2, action; flags
            out.put((byte) family).put((byte) 0).put((byte) 0).put((byte) 0).put((byte) smallTable).put((byte) 0)
                    .put((byte) 0).put((byte) FR_ACT_TO_TBL).putInt(0);
            attribute(out, FRA_PRIORITY, PRIORITY);
            attribute(out, FRA_FWMARK, e.mark());
            attribute(out, FRA_FWMASK, e.mask());
            attribute(out, FRA_TABLE, e.table());
            out.putShort((short) 5).putShort((short) FRA_PROTOCOL).put((byte) PROTOCOL).put(new byte[3]);
        } else {
            // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type; flags
            out.put((byte) family).put((byte) 0).put((byte) 0).put((byte) 0).put((byte) smallTable)
                    .put((byte) PROTOCOL).put((byte) RT_SCOPE_HOST).put((byte) RTN_LOCAL).putInt(0);
            attribute(out, RTA_TABLE, e.table());
            attribute(out, RTA_OIF, LOOPBACK_IFINDEX);
        }
        out.putInt(at, out.position() - at);
    }

    /**
     * Sends the requests in {@code out} (sequence numbers from {@code first}, one per entry) and reads their
     * acknowledgements; an error other than {@code tolerated} (or ESRCH, a route's ENOENT, when ENOENT is) fails.
     */
    private void acknowledged(ByteBuffer out, int first, List<Entry> entries, int tolerated, String verb) {
        send(out);
        int pending = entries.size();
        RulesException failure = null;
        while (pending > 0) {
            ByteBuffer in = receive();
            for (int m = in.position(); m + HEADER <= in.limit(); ) {
                int length = in.getInt(m);
                if (length < HEADER) {
                    break;
                }
                int index = in.getInt(m + 8) - first;
                if ((in.getShort(m + 4) & 0xffff) == NLMSG_ERROR && index >= 0 && index < entries.size()) {
                    pending--;
                    int errno = -in.getInt(m + HEADER);
                    boolean fine = errno == 0 || errno == tolerated || (tolerated == ENOENT && errno == ESRCH);
                    if (!fine && failure == null) {
                        failure = refused(verb + " " + entries.get(index).line(), errno);
                    }
                }
                m += (length + 3) & ~3;
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    private static void attribute(ByteBuffer out, int type, int value) {
        out.putShort((short) 8).putShort((short) type).putInt(value);
    }

    private static Integer u32(ByteBuffer in, int from, int end, int type) {
        byte[] v = NftMessages.attribute(in, from, end, type);
        return v == null || v.length != 4 ? null : ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt();
    }

    private static Integer u8(ByteBuffer in, int from, int end, int type) {
        byte[] v = NftMessages.attribute(in, from, end, type);
        return v == null || v.length < 1 ? null : v[0] & 0xff;
    }

    private static IpFamily family(int af) {
        return af == AF_INET ? IpFamily.IPV4 : af == AF_INET6 ? IpFamily.IPV6 : null;
    }

    /** Room for {@code messages} requests of {@link #message}'s size (at most 72 bytes each). */
    private static ByteBuffer buffer(int messages) {
        return ByteBuffer.allocate(96 * messages).order(ByteOrder.nativeOrder());
    }

    private void send(ByteBuffer out) {
        out.flip();
        try {
            socket.send(out);
        } catch (IOException e) {
            throw new RulesException("cannot send to the routing of network namespace " + netns + ": "
                    + e.getMessage(), e);
        }
    }

    private ByteBuffer receive() {
        try {
            return socket.receive();
        } catch (IOException e) {
            throw new RulesException("no answer from the routing of network namespace " + netns + ": "
                    + e.getMessage(), e);
        }
    }

    private RulesException refused(String what, int errno) {
        return new RulesException("the routing of network namespace " + netns + " refused " + what + ": "
                + NetlinkSocket.describe(errno) + " (errno " + errno + ")");
    }

    @Override
    public void close() {
        socket.close();
    }
}
