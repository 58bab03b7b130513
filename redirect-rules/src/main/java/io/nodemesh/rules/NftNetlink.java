package io.nodemesh.rules;

import io.nodemesh.linux.NetlinkSocket;
import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * nodemesh's nft table written, replaced, looked for and deleted through nf_tables' netlink interface from the calling
 * thread: no {@code nft} process per pod. A netlink socket opened inside the pod's namespace (then the thread goes
 * back) carries one transaction, which the kernel applies whole or not at all, as {@code nft -f} would.
 *
 * <p>Errors are {@link RulesException}s naming the namespace, the part of the table the kernel refused and the
 * kernel's reason. Needs a platform thread (entering a namespace moves the thread) and CAP_NET_ADMIN there.
 */
final class NftNetlink implements AutoCloseable {

    private static final Duration TIMEOUT = Duration.ofSeconds(10);
    private static final int ENOENT = 2;
    private static final int EEXIST = 17;

    private final Path netns;
    private final NetlinkSocket socket;
    private int nextSeq = 1;

    /** What the kernel refused in a transaction: the message, its errno and the kernel's words, if any. */
    private record Refusal(String what, int errno, String extack) {
    }

    private NftNetlink(Path netns, NetlinkSocket socket) {
        this.netns = netns;
        this.socket = socket;
    }

    /** A session on the nf_tables of the namespace at {@code netns}. */
    static NftNetlink in(Path netns) {
        NetnsRunner.requireNamespace(netns);
        try (NetworkNamespace ns = NetworkNamespace.open(netns)) {
            return new NftNetlink(netns, ns.call(() -> NetlinkSocket.open(NetlinkSocket.NETLINK_NETFILTER, TIMEOUT)));
        } catch (RulesException e) {
            throw e;
        } catch (Exception e) {
            throw new RulesException("cannot open a netlink socket to nf_tables in network namespace " + netns + ": "
                    + e.getMessage(), e);
        }
    }

    /** Whether {@code table inet nodemesh} is there. */
    boolean tablePresent() {
        NftMessages.Batch get = NftMessages.Batch.requests(nextSeq);
        int seq = NftMessages.getTable(get);
        send(get.finish(), get);
        boolean table = false;
        while (true) {
            ByteBuffer in = receive();
            for (int at = in.position(); at + NftMessages.HEADER <= in.limit(); at = next(in, at)) {
                if (in.getInt(at + 8) != seq) {
                    continue;
                }
                int type = in.getShort(at + 4) & 0xffff;
                if (type == NftMessages.type(NftMessages.NFT_MSG_NEWTABLE)) {
                    table = true;
                } else if (type == NftMessages.NLMSG_ERROR) {
                    int errno = -in.getInt(at + NftMessages.HEADER);
                    if (errno == 0) {
                        return table;
                    }
                    if (errno == ENOENT) {
                        return false;
                    }
                    throw refused(get.describe(seq), errno, extackMessage(in, at));
                }
            }
        }
    }

    /**
     * The nodemesh chains of the iptables backend as {@code iptables-nft} keeps them in nf_tables ({@code iptables
     * NODEMESH_OUTPUT}, …): one netlink dump instead of an {@code iptables-save} per family. Chains of the legacy
     * x_tables iptables are not in nf_tables and not found here.
     */
    List<String> iptablesChains() {
        NftMessages.Batch dump = NftMessages.Batch.requests(nextSeq);
        int seq = NftMessages.dumpChains(dump, NftMessages.NFPROTO_UNSPEC);
        send(dump.finish(), dump);
        List<String> found = new ArrayList<>();
        while (true) {
            ByteBuffer in = receive();
            for (int at = in.position(); at + NftMessages.HEADER <= in.limit(); at = next(in, at)) {
                if (in.getInt(at + 8) != seq) {
                    continue;
                }
                int type = in.getShort(at + 4) & 0xffff;
                if (type == NftMessages.NLMSG_DONE) {
                    return found;
                }
                if (type == NftMessages.NLMSG_ERROR) {
                    int errno = -in.getInt(at + NftMessages.HEADER);
                    if (errno != 0) {
                        throw refused(dump.describe(seq), errno, extackMessage(in, at));
                    }
                    return found;
                }
                if (type != NftMessages.type(NftMessages.NFT_MSG_NEWCHAIN)) {
                    continue;
                }
                int family = in.get(at + NftMessages.HEADER) & 0xff;
                String table = stringAttribute(in, at, NftMessages.NFTA_CHAIN_TABLE);
                String chain = stringAttribute(in, at, NftMessages.NFTA_CHAIN_NAME);
                if ("nat".equals(table) && chain != null && chain.startsWith(IptablesRenderer.CHAIN_PREFIX)) {
                    if (family == NftMessages.NFPROTO_IPV4) {
                        found.add(IpFamily.IPV4.iptablesTool() + " " + chain);
                    } else if (family == NftMessages.NFPROTO_IPV6) {
                        found.add(IpFamily.IPV6.iptablesTool() + " " + chain);
                    }
                }
            }
        }
    }

    /** Adds the plan's table; refused (nothing changed) when {@code table inet nodemesh} exists already. */
    void create(RedirectPlan plan) {
        NftMessages.Batch batch = NftMessages.Batch.transaction();
        NftMessages.table(batch, plan, true);
        Refusal failed = commit(batch);
        if (failed != null) {
            if (failed.errno() == EEXIST && failed.what().equals("table inet " + NftMessages.TABLE)) {
                throw new RulesException("network namespace " + netns + " already has nodemesh rules (nft table "
                        + NftRenderer.TABLE + "); run `nodemesh rules check` or `rules remove` first");
            }
            throw refused(failed);
        }
    }

    /** Makes the table exactly the plan's, whatever was there, in one transaction: no instant without rules. */
    void replace(RedirectPlan plan) {
        NftMessages.Batch batch = NftMessages.Batch.transaction();
        NftMessages.ensureTable(batch);
        NftMessages.deleteTable(batch);
        NftMessages.table(batch, plan, false);
        Refusal failed = commit(batch);
        if (failed != null) {
            throw refused(failed);
        }
    }

    /** Deletes the table with its chains and rules; false if there was none. */
    boolean delete() {
        NftMessages.Batch batch = NftMessages.Batch.transaction();
        NftMessages.deleteTable(batch);
        Refusal failed = commit(batch);
        if (failed == null) {
            return true;
        }
        if (failed.errno() == ENOENT) {
            return false;
        }
        throw refused(failed);
    }

    /**
     * Sends the transaction, then a generation request whose answer the kernel queues after every error of the
     * transaction (a batch is processed while it is sent). Returns the first message the kernel refused, or null when
     * the transaction was committed.
     */
    private Refusal commit(NftMessages.Batch batch) {
        send(batch.finish(), batch);
        NftMessages.Batch sync = NftMessages.Batch.requests(nextSeq);
        int genSeq = NftMessages.getGeneration(sync);
        send(sync.finish(), sync);
        Refusal failed = null;
        while (true) {
            ByteBuffer in = receive();
            for (int at = in.position(); at + NftMessages.HEADER <= in.limit(); at = next(in, at)) {
                int type = in.getShort(at + 4) & 0xffff;
                int seq = in.getInt(at + 8);
                if (type == NftMessages.NLMSG_ERROR && batch.holds(seq)) {
                    int errno = -in.getInt(at + NftMessages.HEADER);
                    if (errno != 0 && failed == null) {
                        failed = new Refusal(batch.describe(seq), errno, extackMessage(in, at));
                    }
                } else if (seq == genSeq) {
                    if (type == NftMessages.NLMSG_ERROR) {
                        int errno = -in.getInt(at + NftMessages.HEADER);
                        throw refused(sync.describe(seq), errno, extackMessage(in, at));
                    }
                    if (type == NftMessages.type(NftMessages.NFT_MSG_NEWGEN)) {
                        return failed;
                    }
                }
            }
        }
    }

    private void send(ByteBuffer bytes, NftMessages.Batch batch) {
        nextSeq = batch.nextSeq();
        try {
            socket.send(bytes);
        } catch (IOException e) {
            throw new RulesException("cannot send to nf_tables in network namespace " + netns + ": "
                    + e.getMessage(), e);
        }
    }

    private ByteBuffer receive() {
        try {
            return socket.receive();
        } catch (IOException e) {
            throw new RulesException("no answer from nf_tables in network namespace " + netns + ": "
                    + e.getMessage(), e);
        }
    }

    private RulesException refused(Refusal refusal) {
        return refused(refusal.what(), refusal.errno(), refusal.extack());
    }

    private RulesException refused(String what, int errno, String extack) {
        return new RulesException("nf_tables in network namespace " + netns + " refused " + what + ": "
                + NetlinkSocket.describe(errno) + " (errno " + errno + ")" + (extack == null ? "" : ": " + extack));
    }

    /** Where the message after the one at {@code at} starts. */
    private static int next(ByteBuffer in, int at) {
        int length = in.getInt(at);
        if (length < NftMessages.HEADER) {
            return in.limit(); // malformed: stop reading this datagram
        }
        return at + ((length + 3) & ~3);
    }

    /** The text of an error's extended acknowledgement ({@code NLMSGERR_ATTR_MSG}), if the kernel sent one. */
    private static String extackMessage(ByteBuffer in, int at) {
        int flags = in.getShort(at + 6) & 0xffff;
        if ((flags & NftMessages.NLM_F_ACK_TLVS) == 0) {
            return null;
        }
        int end = at + in.getInt(at);
        int echoed = (flags & NftMessages.NLM_F_CAPPED) != 0 ? NftMessages.HEADER : in.getInt(at + NftMessages.HEADER + 4);
        int attr = at + NftMessages.HEADER + 4 + ((echoed + 3) & ~3);
        while (attr + 4 <= end) {
            int length = in.getShort(attr) & 0xffff;
            int type = in.getShort(attr + 2) & 0x3fff;
            if (length < 4 || attr + length > end) {
                return null;
            }
            if (type == NftMessages.NLMSGERR_ATTR_MSG) {
                return cString(in, attr + 4, length - 4);
            }
            attr += (length + 3) & ~3;
        }
        return null;
    }

    /** A NUL-terminated string attribute of an nf_tables message at {@code at}, or null. */
    private static String stringAttribute(ByteBuffer in, int at, int wanted) {
        int end = at + in.getInt(at);
        int attr = at + NftMessages.HEADER + 4;
        while (attr + 4 <= end) {
            int length = in.getShort(attr) & 0xffff;
            int type = in.getShort(attr + 2) & 0x3fff;
            if (length < 4 || attr + length > end) {
                return null;
            }
            if (type == wanted) {
                return cString(in, attr + 4, length - 4);
            }
            attr += (length + 3) & ~3;
        }
        return null;
    }

    private static String cString(ByteBuffer in, int from, int max) {
        int length = 0;
        while (length < max && in.get(from + length) != 0) {
            length++;
        }
        byte[] bytes = new byte[length];
        in.get(from, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    @Override
    public void close() {
        socket.close();
    }
}
