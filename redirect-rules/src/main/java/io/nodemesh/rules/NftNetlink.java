package io.nodemesh.rules;

import io.nodemesh.linux.NetlinkSocket;
import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
import java.nio.ByteBuffer;
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
    /** The datagram being read and where its next message starts ({@link #nextMessage}). */
    private ByteBuffer datagram;
    private int datagramAt;

    /** One message the kernel sent: the datagram holding it, where it starts, its type and sequence number. */
    private record Message(ByteBuffer in, int at, int type, int seq) {
        /** An error or acknowledgement's errno (0: acknowledged). */
        int errno() {
            return -in.getInt(at + NftMessages.HEADER);
        }

        /** The text of an error's extended acknowledgement ({@code NLMSGERR_ATTR_MSG}), if the kernel sent one. */
        String extack() {
            int flags = in.getShort(at + 6) & 0xffff;
            if ((flags & NftMessages.NLM_F_ACK_TLVS) == 0) {
                return null;
            }
            int echoed = (flags & NftMessages.NLM_F_CAPPED) != 0
                    ? NftMessages.HEADER : in.getInt(at + NftMessages.HEADER + 4);
            return string(at + NftMessages.HEADER + 4 + ((echoed + 3) & ~3), NftMessages.NLMSGERR_ATTR_MSG);
        }

        /** A NUL-terminated string attribute of this nf_tables message, or null. */
        String attribute(int wanted) {
            return string(at + NftMessages.HEADER + 4, wanted);
        }

        /** The string attribute of type {@code wanted} among the attributes from {@code attr} to the message's end. */
        private String string(int attr, int wanted) {
            return NftMessages.text(NftMessages.attribute(in, attr, at + in.getInt(at), wanted));
        }
    }

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
        return table(null);
    }

    /**
     * What install needs to know of this namespace's nf_tables: the nodemesh chains of the iptables backend as
     * {@code iptables-nft} keeps them in nf_tables ({@code iptables NODEMESH_OUTPUT}, …; one netlink dump instead of
     * an {@code iptables-save} per family; chains of the legacy x_tables iptables are not in nf_tables and not found
     * here), and the live {@code table inet nodemesh} as an {@link NftTableImage}, to compare with
     * {@link NftTableImage#of} a plan (null when there is none).
     */
    record Survey(List<String> iptablesChains, NftTableImage image) {
    }

    /**
     * One chain dump of every family (the iptables backend's chains, and the chains of nodemesh's table), a lookup of
     * the table and, when it is there, a dump of its rules: at most three requests on this socket.
     */
    Survey survey() {
        NftTableImage image = NftTableImage.empty();
        List<String> iptables = new ArrayList<>();
        NftMessages.Batch chains = NftMessages.Batch.requests(nextSeq);
        dump(chains, NftMessages.dumpChains(chains, NftMessages.NFPROTO_UNSPEC), (in, at, type) -> {
            if (type == NftMessages.type(NftMessages.NFT_MSG_NEWCHAIN)) {
                iptablesChain(new Message(in, at, type, 0), iptables);
                image.add(in, at, type); // kept only when it is a chain of table inet nodemesh
            }
        });
        if (!table(image)) {
            return new Survey(iptables, null);
        }
        NftMessages.Batch rules = NftMessages.Batch.requests(nextSeq);
        dump(rules, NftMessages.dumpRules(rules), image::add);
        return new Survey(iptables, image);
    }

    /** Looks the table up; adds it to {@code image} when there is one and an image is given. */
    private boolean table(NftTableImage image) {
        NftMessages.Batch get = NftMessages.Batch.requests(nextSeq);
        int seq = NftMessages.getTable(get);
        send(get.finish(), get);
        boolean table = false;
        while (true) {
            Message m = nextMessage();
            if (m.seq() != seq) {
                continue;
            }
            if (m.type() == NftMessages.type(NftMessages.NFT_MSG_NEWTABLE)) {
                table = true;
                if (image != null) {
                    image.add(m.in(), m.at(), m.type());
                }
            } else if (m.type() == NftMessages.NLMSG_ERROR) {
                if (m.errno() == 0) {
                    return table;
                }
                if (m.errno() == ENOENT) {
                    return false;
                }
                throw refused(get.describe(seq), m);
            }
        }
    }

    /** What a dump request receives: each message of its answer until NLMSG_DONE, handed to {@code each}. */
    private interface Each {
        void message(ByteBuffer in, int at, int type);
    }

    private void dump(NftMessages.Batch request, int seq, Each each) {
        send(request.finish(), request);
        while (true) {
            Message m = nextMessage();
            if (m.seq() != seq) {
                continue;
            }
            if (m.type() == NftMessages.NLMSG_DONE) {
                return;
            }
            if (m.type() == NftMessages.NLMSG_ERROR) {
                if (m.errno() != 0) {
                    throw refused(request.describe(seq), m);
                }
                return;
            }
            each.message(m.in(), m.at(), m.type());
        }
    }

    /** Adds {@code chain}, a NEWCHAIN message, to {@code found} when it is one of the iptables backend's. */
    private static void iptablesChain(Message chain, List<String> found) {
        int family = chain.in().get(chain.at() + NftMessages.HEADER) & 0xff;
        String table = chain.attribute(NftMessages.NFTA_CHAIN_TABLE);
        String name = chain.attribute(NftMessages.NFTA_CHAIN_NAME);
        if ("nat".equals(table) && name != null && name.startsWith(IptablesRenderer.CHAIN_PREFIX)) {
            if (family == NftMessages.NFPROTO_IPV4) {
                found.add(IpFamily.IPV4.iptablesTool() + " " + name);
            } else if (family == NftMessages.NFPROTO_IPV6) {
                found.add(IpFamily.IPV6.iptablesTool() + " " + name);
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
            Message m = nextMessage();
            if (m.type() == NftMessages.NLMSG_ERROR && batch.holds(m.seq())) {
                if (m.errno() != 0 && failed == null) {
                    failed = new Refusal(batch.describe(m.seq()), m.errno(), m.extack());
                }
            } else if (m.seq() == genSeq) {
                if (m.type() == NftMessages.NLMSG_ERROR) {
                    throw refused(sync.describe(genSeq), m);
                }
                if (m.type() == NftMessages.type(NftMessages.NFT_MSG_NEWGEN)) {
                    return failed;
                }
            }
        }
    }

    /** The next message from the kernel: the rest of the datagram read last, else the next datagram's first. */
    private Message nextMessage() {
        while (datagram == null || datagramAt + NftMessages.HEADER > datagram.limit()) {
            datagram = receive();
            datagramAt = datagram.position();
        }
        int at = datagramAt;
        int length = datagram.getInt(at);
        // a malformed length ends the datagram
        datagramAt = length < NftMessages.HEADER ? datagram.limit() : at + ((length + 3) & ~3);
        return new Message(datagram, at, datagram.getShort(at + 4) & 0xffff, datagram.getInt(at + 8));
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

    private RulesException refused(String what, Message error) {
        return refused(what, error.errno(), error.extack());
    }

    private RulesException refused(String what, int errno, String extack) {
        return new RulesException("nf_tables in network namespace " + netns + " refused " + what + ": "
                + NetlinkSocket.describe(errno) + " (errno " + errno + ")" + (extack == null ? "" : ": " + extack));
    }

    @Override
    public void close() {
        socket.close();
    }
}
