package io.nodemesh.rules;

import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * nodemesh's table as nf_tables netlink messages: the bytecode {@code nft -f} sends for {@link NftRenderer}'s text,
 * expression for expression (checked against {@code nft --debug=netlink}), so that {@code nft list table inet
 * nodemesh} prints the rendering back whichever of the two installed it. The layouts are the kernel's uapi
 * ({@code linux/netlink.h}, {@code linux/netfilter/nfnetlink.h}, {@code linux/netfilter/nf_tables.h}).
 *
 * <p>A message is appended to a {@link Batch}; each carries a description so that an error the kernel returns for
 * it says which part of the table it refused.
 */
final class NftMessages {

    // linux/netlink.h
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    static final int NLM_F_REQUEST = 0x1;
    static final int NLM_F_MULTI = 0x2;
    static final int NLM_F_ACK = 0x4;
    static final int NLM_F_DUMP = 0x300;
    static final int NLM_F_EXCL = 0x200;
    static final int NLM_F_CREATE = 0x400;
    static final int NLM_F_APPEND = 0x800;
    static final int NLM_F_CAPPED = 0x100;
    static final int NLM_F_ACK_TLVS = 0x200;
    static final int NLMSGERR_ATTR_MSG = 1;
    static final int HEADER = 16;
    private static final int NLA_F_NESTED = 0x8000;

    // linux/netfilter/nfnetlink.h
    private static final int NFNL_SUBSYS_NFTABLES = 10;
    private static final int NFNL_MSG_BATCH_BEGIN = 0x10;
    private static final int NFNL_MSG_BATCH_END = 0x11;
    static final int NFPROTO_UNSPEC = 0;
    static final int NFPROTO_INET = 1;
    static final int NFPROTO_IPV4 = 2;
    static final int NFPROTO_IPV6 = 10;

    // linux/netfilter/nf_tables.h: messages
    static final int NFT_MSG_NEWTABLE = 0;
    static final int NFT_MSG_GETTABLE = 1;
    static final int NFT_MSG_DELTABLE = 2;
    static final int NFT_MSG_NEWCHAIN = 3;
    static final int NFT_MSG_GETCHAIN = 4;
    static final int NFT_MSG_NEWRULE = 6;
    static final int NFT_MSG_GETRULE = 7;
    static final int NFT_MSG_NEWGEN = 15;
    static final int NFT_MSG_GETGEN = 16;
    // attributes
    static final int NFTA_TABLE_NAME = 1;
    private static final int NFTA_TABLE_USERDATA = 6;
    static final int NFTA_CHAIN_TABLE = 1;
    static final int NFTA_CHAIN_NAME = 3;
    private static final int NFTA_CHAIN_HOOK = 4;
    private static final int NFTA_CHAIN_POLICY = 5;
    private static final int NFTA_CHAIN_TYPE = 7;
    private static final int NFTA_HOOK_HOOKNUM = 1;
    private static final int NFTA_HOOK_PRIORITY = 2;
    private static final int NFTA_RULE_TABLE = 1;
    private static final int NFTA_RULE_CHAIN = 2;
    private static final int NFTA_RULE_EXPRESSIONS = 4;
    private static final int NFTA_RULE_USERDATA = 7;
    private static final int NFTA_LIST_ELEM = 1;
    private static final int NFTA_EXPR_NAME = 1;
    private static final int NFTA_EXPR_DATA = 2;
    private static final int NFTA_DATA_VALUE = 1;
    private static final int NFTA_DATA_VERDICT = 2;
    private static final int NFTA_VERDICT_CODE = 1;
    // expressions' attributes
    private static final int NFTA_META_DREG = 1;
    private static final int NFTA_META_KEY = 2;
    private static final int NFTA_CMP_SREG = 1;
    private static final int NFTA_CMP_OP = 2;
    private static final int NFTA_CMP_DATA = 3;
    private static final int NFTA_BITWISE_SREG = 1;
    private static final int NFTA_BITWISE_DREG = 2;
    private static final int NFTA_BITWISE_LEN = 3;
    private static final int NFTA_BITWISE_MASK = 4;
    private static final int NFTA_BITWISE_XOR = 5;
    private static final int NFTA_PAYLOAD_DREG = 1;
    private static final int NFTA_PAYLOAD_BASE = 2;
    private static final int NFTA_PAYLOAD_OFFSET = 3;
    private static final int NFTA_PAYLOAD_LEN = 4;
    private static final int NFTA_IMMEDIATE_DREG = 1;
    private static final int NFTA_IMMEDIATE_DATA = 2;
    private static final int NFTA_REDIR_REG_PROTO_MIN = 1;
    private static final int NFTA_REDIR_FLAGS = 3;
    private static final int NFTA_META_SREG = 3;
    private static final int NFTA_TPROXY_FAMILY = 1;
    private static final int NFTA_TPROXY_REG_PORT = 3;
    // values
    private static final int NFT_REG_VERDICT = 0;
    private static final int NFT_REG_1 = 1;
    private static final int NFT_CMP_EQ = 0;
    private static final int NFT_RETURN = -5;
    private static final int NF_ACCEPT = 1;
    private static final int NF_INET_PRE_ROUTING = 0;
    private static final int NF_INET_LOCAL_OUT = 3;
    private static final int NAT_PRIORITY = -100;
    private static final int MANGLE_PRIORITY = -150;
    private static final int NFT_META_MARK = 3;
    private static final int NFT_META_IIFNAME = 6;
    private static final int NFT_META_OIFNAME = 7;
    private static final int NFT_META_NFPROTO = 15;
    private static final int NFT_META_L4PROTO = 16;
    private static final int NFT_PAYLOAD_NETWORK_HEADER = 1;
    private static final int NFT_PAYLOAD_TRANSPORT_HEADER = 2;
    private static final int NF_NAT_RANGE_PROTO_SPECIFIED = 0x2;
    private static final int IPPROTO_TCP = 6;
    private static final int IFNAMSIZ = 16;
    // libnftnl's user data: the comment of a table or rule, a type-length-value of a NUL-terminated string
    private static final int NFTNL_UDATA_COMMENT = 0;

    /** nodemesh's table name within the {@code inet} family. */
    static final String TABLE = "nodemesh";

    private NftMessages() {
    }

    /**
     * The payload of the first attribute of {@code type} (its flags masked off) among those from {@code from} to
     * {@code end} of {@code in}, or null when there is none or the attributes are malformed before it.
     */
    static byte[] attribute(ByteBuffer in, int from, int end, int type) {
        for (int at = from; at + 4 <= end; ) {
            int length = in.getShort(at) & 0xffff;
            if (length < 4 || at + length > end) {
                return null;
            }
            if ((in.getShort(at + 2) & 0x3fff) == type) {
                byte[] value = new byte[length - 4];
                in.get(at + 4, value);
                return value;
            }
            at += (length + 3) & ~3;
        }
        return null;
    }

    /** A NUL-terminated (or unterminated) UTF-8 string attribute's text; null for null. */
    static String text(byte[] payload) {
        if (payload == null) {
            return null;
        }
        int length = 0;
        while (length < payload.length && payload[length] != 0) {
            length++;
        }
        return new String(payload, 0, length, StandardCharsets.UTF_8);
    }

    /** The nfnetlink message type of an nf_tables message. */
    static int type(int message) {
        return NFNL_SUBSYS_NFTABLES << 8 | message;
    }

    /**
     * Messages sent in one write: with {@link #transaction()} one nf_tables transaction that the kernel applies
     * whole or not at all. Sequence numbers count up from 1; {@link #describe} names the message of one.
     */
    static final class Batch {
        private ByteBuffer buffer = ByteBuffer.allocate(4096).order(ByteOrder.nativeOrder());
        private final List<String> descriptions = new ArrayList<>();
        private final boolean transaction;
        private final int seqBase;
        private int message = -1;

        private Batch(boolean transaction, int seqBase) {
            this.transaction = transaction;
            this.seqBase = seqBase;
            if (transaction) {
                begin(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES, "batch begin");
                end();
            }
        }

        /** An atomic batch: BATCH_BEGIN … BATCH_END around what is added. */
        static Batch transaction() {
            return new Batch(true, 0);
        }

        /** Plain requests, each on its own (a GET, a dump), numbered from {@code firstSeq}. */
        static Batch requests(int firstSeq) {
            return new Batch(false, firstSeq - 1);
        }

        /** The sequence number the next message gets. */
        int nextSeq() {
            return seqBase + descriptions.size() + 1;
        }

        /** Whether {@code seq} numbers one of this batch's messages. */
        boolean holds(int seq) {
            return seq > seqBase && seq <= seqBase + descriptions.size();
        }

        /** What the message with {@code seq} was, for an error the kernel returned for it. */
        String describe(int seq) {
            return holds(seq) ? descriptions.get(seq - seqBase - 1) : "message " + seq;
        }

        /** The bytes to send, BATCH_END appended to a transaction; the batch takes no more messages after. */
        ByteBuffer finish() {
            if (transaction) {
                begin(NFNL_MSG_BATCH_END, NLM_F_REQUEST, NFPROTO_UNSPEC, NFNL_SUBSYS_NFTABLES, "batch end");
                end();
            }
            ByteBuffer out = buffer.duplicate().order(ByteOrder.nativeOrder());
            out.flip();
            return out;
        }

        /** Starts a message: the netlink header and nfgenmsg; returns its sequence number. */
        int begin(int type, int flags, int family, int resId, String description) {
            descriptions.add(description);
            int seq = seqBase + descriptions.size();
            ensure(HEADER + 4);
            message = buffer.position();
            buffer.putInt(0).putShort((short) type).putShort((short) flags).putInt(seq).putInt(0);
            buffer.put((byte) family).put((byte) 0).putShort(Short.reverseBytes((short) resId));
            return seq;
        }

        /** Starts an nf_tables message. */
        int begin(int nftMessage, int flags, int family, String description) {
            return begin(type(nftMessage), flags, family, 0, description);
        }

        /** Ends the message begun last: writes its length. */
        void end() {
            buffer.putInt(message, buffer.position() - message);
        }

        void string(int type, String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            byte[] z = Arrays.copyOf(bytes, bytes.length + 1);
            bytes(type, z);
        }

        void u32(int type, int value) {
            bytes(type, ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putInt(value).array());
        }

        void bytes(int type, byte[] value) {
            ensure(4 + value.length + 3);
            buffer.putShort((short) (4 + value.length)).putShort((short) type).put(value);
            pad();
        }

        /** Opens a nested attribute; returns where, for {@link #close}. */
        int open(int type) {
            ensure(4);
            int at = buffer.position();
            buffer.putShort((short) 0).putShort((short) (type | NLA_F_NESTED));
            return at;
        }

        void close(int at) {
            buffer.putShort(at, (short) (buffer.position() - at));
        }

        private void pad() {
            while ((buffer.position() & 3) != 0) {
                buffer.put((byte) 0);
            }
        }

        private void ensure(int more) {
            if (buffer.remaining() < more) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buffer.capacity() * 2, buffer.position() + more))
                        .order(ByteOrder.nativeOrder());
                buffer.flip();
                bigger.put(buffer);
                buffer = bigger;
            }
        }
    }

    /**
     * Adds the whole table of {@code plan} to {@code batch}: the table with its comment, then the output and
     * prerouting chains and their rules, in {@link NftRenderer}'s order.
     *
     * @param exclusive fail (EEXIST) when the table exists, instead of adding to it
     */
    static void table(Batch batch, RedirectPlan plan, boolean exclusive) {
        if (plan.capture() == CaptureMode.EBPF) {
            throw new IllegalArgumentException("an ebpf plan has no nft table: its capture is all eBPF programs");
        }
        batch.begin(NFT_MSG_NEWTABLE, NLM_F_REQUEST | NLM_F_CREATE | (exclusive ? NLM_F_EXCL : 0), NFPROTO_INET,
                "table inet " + TABLE);
        batch.string(NFTA_TABLE_NAME, TABLE);
        batch.bytes(NFTA_TABLE_USERDATA, comment(plan.comment()));
        batch.end();
        if (plan.capture() != CaptureMode.REDIRECT) {
            tproxyChains(batch, plan);
            return;
        }

        chain(batch, "output", NF_INET_LOCAL_OUT, "nat", NAT_PRIORITY);
        List<Rule> output = new ArrayList<>();
        outboundExemptions(plan, output);
        output.add(redirect(plan.outboundPort(), plan.comment()));
        rules(batch, "output", output);

        chain(batch, "prerouting", NF_INET_PRE_ROUTING, "nat", NAT_PRIORITY);
        List<Rule> prerouting = new ArrayList<>();
        skipUncapturedFamily(plan, prerouting);
        prerouting.add(new Rule("iifname \"lo\" return").meta(NFT_META_IIFNAME).cmp(ifname("lo")).ret());
        for (int port : plan.exemptInboundPorts()) {
            prerouting.add(dportReturn(port));
        }
        prerouting.add(redirect(plan.inboundPort(), plan.comment()));
        rules(batch, "prerouting", prerouting);
    }

    /**
     * {@link CaptureMode#TPROXY}'s chains, in {@link NftRenderer}'s order: a route-type {@code output} chain that
     * marks what it captures (the mark routes it back in through {@code lo}), and a {@code prerouting} filter chain
     * that gives marked packets to the outbound listener and inbound ones to the inbound listener with {@code tproxy}.
     */
    private static void tproxyChains(Batch batch, RedirectPlan plan) {
        chain(batch, "output", NF_INET_LOCAL_OUT, "route", MANGLE_PRIORITY);
        List<Rule> output = new ArrayList<>();
        outboundExemptions(plan, output);
        // Replies of connections accepted on ports inbound capture leaves alone: every packet passes this chain, not
        // only a connection's first (nat's), and nothing here knows which connection a packet belongs to.
        for (int port : plan.exemptInboundPorts()) {
            output.add(sportReturn(port));
        }
        Rule mark = new Rule("meta l4proto tcp " + NftRenderer.tproxyMarkSet(plan)).meta(NFT_META_L4PROTO)
                .cmp(new byte[] {IPPROTO_TCP});
        if (plan.markMask() == -1) {
            rule(mark, "immediate", b -> {
                b.u32(NFTA_IMMEDIATE_DREG, NFT_REG_1);
                int data = b.open(NFTA_IMMEDIATE_DATA);
                b.bytes(NFTA_DATA_VALUE, hostU32(plan.tproxyMark()));
                b.close(data);
            });
        } else {
            mark.meta(NFT_META_MARK).bitwise(hostU32(~plan.markMask()), hostU32(plan.tproxyMark()));
        }
        rule(mark, "meta", b -> {
            b.u32(NFTA_META_KEY, NFT_META_MARK);
            b.u32(NFTA_META_SREG, NFT_REG_1);
        });
        mark.comment = plan.comment();
        output.add(mark);
        rules(batch, "output", output);

        chain(batch, "prerouting", NF_INET_PRE_ROUTING, "filter", MANGLE_PRIORITY);
        List<Rule> prerouting = new ArrayList<>();
        skipUncapturedFamily(plan, prerouting);
        Rule outbound = new Rule("meta l4proto tcp " + NftRenderer.tproxyMarkMatch(plan) + " tproxy to :"
                + plan.outboundPort()).meta(NFT_META_L4PROTO).cmp(new byte[] {IPPROTO_TCP}).meta(NFT_META_MARK);
        if (plan.markMask() != -1) {
            outbound.bitwise(hostU32(plan.markMask()), new byte[4]);
        }
        outbound.cmp(hostU32(plan.tproxyMark()));
        prerouting.add(tproxy(outbound, plan.outboundPort()));
        inboundTproxy(batch, plan, prerouting);
    }

    /** The prerouting chain's inbound part ({@code lo} and exempt ports let through, TCP to the inbound port). */
    private static void inboundTproxy(Batch batch, RedirectPlan plan, List<Rule> prerouting) {
        prerouting.add(new Rule("iifname \"lo\" return").meta(NFT_META_IIFNAME).cmp(ifname("lo")).ret());
        for (int port : plan.exemptInboundPorts()) {
            prerouting.add(dportReturn(port));
        }
        Rule inbound = tproxy(new Rule("meta l4proto tcp tproxy to :" + plan.inboundPort()).meta(NFT_META_L4PROTO)
                .cmp(new byte[] {IPPROTO_TCP}), plan.inboundPort());
        inbound.comment = plan.comment();
        prerouting.add(inbound);
        rules(batch, "prerouting", prerouting);
    }

    /** Ends {@code rule} with {@code tproxy to :port}, for both families ({@code NFPROTO_UNSPEC}, the port only). */
    private static Rule tproxy(Rule rule, int port) {
        rule(rule, "immediate", b -> {
            b.u32(NFTA_IMMEDIATE_DREG, NFT_REG_1);
            int data = b.open(NFTA_IMMEDIATE_DATA);
            b.bytes(NFTA_DATA_VALUE, port(port));
            b.close(data);
        });
        rule(rule, "tproxy", b -> {
            b.u32(NFTA_TPROXY_FAMILY, NFPROTO_UNSPEC);
            b.u32(NFTA_TPROXY_REG_PORT, NFT_REG_1);
        });
        return rule;
    }

    private static void rule(Rule rule, String expression, Body body) {
        rule.expressions.add(new Expression(expression, body));
    }

    /** Creates the table if it is missing, so that a {@link #deleteTable} in the same transaction cannot fail. */
    static void ensureTable(Batch batch) {
        batch.begin(NFT_MSG_NEWTABLE, NLM_F_REQUEST | NLM_F_CREATE, NFPROTO_INET, "table inet " + TABLE);
        batch.string(NFTA_TABLE_NAME, TABLE);
        batch.end();
    }

    /** Deletes the table with everything in it (ENOENT when there is none). */
    static void deleteTable(Batch batch) {
        batch.begin(NFT_MSG_DELTABLE, NLM_F_REQUEST, NFPROTO_INET, "delete table inet " + TABLE);
        batch.string(NFTA_TABLE_NAME, TABLE);
        batch.end();
    }

    /** Asks for the table (a NEWTABLE back, or ENOENT). */
    static int getTable(Batch batch) {
        int seq = batch.begin(NFT_MSG_GETTABLE, NLM_F_REQUEST | NLM_F_ACK, NFPROTO_INET, "get table inet " + TABLE);
        batch.string(NFTA_TABLE_NAME, TABLE);
        batch.end();
        return seq;
    }

    /** Asks for every chain of every table of {@code family} (a dump). */
    static int dumpChains(Batch batch, int family) {
        int seq = batch.begin(NFT_MSG_GETCHAIN, NLM_F_REQUEST | NLM_F_DUMP, family, "list chains");
        batch.end();
        return seq;
    }

    /** Asks for every rule of {@code table inet nodemesh} (a dump; the kernel filters by the table). */
    static int dumpRules(Batch batch) {
        int seq = batch.begin(NFT_MSG_GETRULE, NLM_F_REQUEST | NLM_F_DUMP, NFPROTO_INET, "list rules of table inet "
                + TABLE);
        batch.string(NFTA_RULE_TABLE, TABLE);
        batch.end();
        return seq;
    }

    /** Asks for the ruleset's generation: its answer follows every answer to what was sent before it. */
    static int getGeneration(Batch batch) {
        int seq = batch.begin(NFT_MSG_GETGEN, NLM_F_REQUEST, NFPROTO_UNSPEC, "get generation");
        batch.end();
        return seq;
    }

    private static void chain(Batch batch, String name, int hook, String type, int priority) {
        batch.begin(NFT_MSG_NEWCHAIN, NLM_F_REQUEST | NLM_F_CREATE, NFPROTO_INET, "chain " + name);
        batch.string(NFTA_CHAIN_TABLE, TABLE);
        batch.string(NFTA_CHAIN_NAME, name);
        int h = batch.open(NFTA_CHAIN_HOOK);
        batch.u32(NFTA_HOOK_HOOKNUM, hook);
        batch.u32(NFTA_HOOK_PRIORITY, priority);
        batch.close(h);
        batch.u32(NFTA_CHAIN_POLICY, NF_ACCEPT);
        batch.string(NFTA_CHAIN_TYPE, type);
        batch.end();
    }

    private static void rules(Batch batch, String chain, List<Rule> rules) {
        for (Rule rule : rules) {
            batch.begin(NFT_MSG_NEWRULE, NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND, NFPROTO_INET,
                    "rule '" + rule.text + "' in chain " + chain);
            batch.string(NFTA_RULE_TABLE, TABLE);
            batch.string(NFTA_RULE_CHAIN, chain);
            int list = batch.open(NFTA_RULE_EXPRESSIONS);
            for (Expression e : rule.expressions) {
                int elem = batch.open(NFTA_LIST_ELEM);
                batch.string(NFTA_EXPR_NAME, e.name());
                int data = batch.open(NFTA_EXPR_DATA);
                e.body().write(batch);
                batch.close(data);
                batch.close(elem);
            }
            batch.close(list);
            if (rule.comment != null) {
                batch.bytes(NFTA_RULE_USERDATA, comment(rule.comment));
            }
            batch.end();
        }
    }

    /** What the output chain lets through uncaptured, either capture: the proxy's mark, loopback, exemptions. */
    private static void outboundExemptions(RedirectPlan plan, List<Rule> output) {
        skipUncapturedFamily(plan, output);
        output.add(markReturn(plan));
        output.add(new Rule("oifname \"lo\" return").meta(NFT_META_OIFNAME).cmp(ifname("lo")).ret());
        for (IpFamily family : plan.families()) {
            output.add(daddrReturn(family.loopback()));
        }
        for (Cidr cidr : plan.exemptCidrs()) {
            output.add(daddrReturn(cidr));
        }
        for (int port : plan.exemptOutboundPorts()) {
            output.add(dportReturn(port));
        }
    }

    private static void skipUncapturedFamily(RedirectPlan plan, List<Rule> rules) {
        for (IpFamily family : IpFamily.values()) {
            if (!plan.covers(family)) {
                String name = family == IpFamily.IPV4 ? "ipv4" : "ipv6";
                rules.add(new Rule("meta nfproto " + name + " return").meta(NFT_META_NFPROTO)
                        .cmp(new byte[] {(byte) nfproto(family)}).ret());
            }
        }
    }

    private static Rule markReturn(RedirectPlan plan) {
        Rule rule = new Rule(NftRenderer.markMatch(plan) + " return").meta(NFT_META_MARK);
        if (plan.markMask() != -1) {
            rule.bitwise(hostU32(plan.markMask()), new byte[4]);
        }
        return rule.cmp(hostU32(plan.mark())).ret();
    }

    /**
     * {@code ip[6] daddr CIDR return}, as nft makes it: the family checked first (the table is {@code inet}), then a
     * prefix on a byte boundary loads only its bytes; any other one loads the whole address and masks it.
     */
    private static Rule daddrReturn(Cidr cidr) {
        IpFamily family = cidr.family();
        byte[] address = InetAddress.ofLiteral(cidr.address()).getAddress();
        int offset = family == IpFamily.IPV4 ? 16 : 24;
        Rule rule = new Rule((family == IpFamily.IPV4 ? "ip" : "ip6") + " daddr " + cidr.nftForm() + " return")
                .meta(NFT_META_NFPROTO).cmp(new byte[] {(byte) nfproto(family)});
        int prefix = cidr.prefixLength();
        if (prefix > 0 && prefix % 8 == 0) {
            rule.payload(NFT_PAYLOAD_NETWORK_HEADER, offset, prefix / 8).cmp(Arrays.copyOf(address, prefix / 8));
        } else {
            byte[] mask = new byte[address.length];
            for (int bit = 0; bit < prefix; bit++) {
                mask[bit / 8] |= (byte) (0x80 >>> (bit % 8));
            }
            rule.payload(NFT_PAYLOAD_NETWORK_HEADER, offset, address.length)
                    .bitwise(mask, new byte[address.length]).cmp(address);
        }
        return rule.ret();
    }

    private static Rule dportReturn(int port) {
        return new Rule("tcp dport " + port + " return").meta(NFT_META_L4PROTO).cmp(new byte[] {IPPROTO_TCP})
                .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2).cmp(port(port)).ret();
    }

    private static Rule sportReturn(int port) {
        return new Rule("tcp sport " + port + " return").meta(NFT_META_L4PROTO).cmp(new byte[] {IPPROTO_TCP})
                .payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2).cmp(port(port)).ret();
    }

    private static Rule redirect(int port, String comment) {
        Rule rule = new Rule("meta l4proto tcp redirect to :" + port).meta(NFT_META_L4PROTO)
                .cmp(new byte[] {IPPROTO_TCP});
        rule.expressions.add(new Expression("immediate", b -> {
            b.u32(NFTA_IMMEDIATE_DREG, NFT_REG_1);
            int data = b.open(NFTA_IMMEDIATE_DATA);
            b.bytes(NFTA_DATA_VALUE, port(port));
            b.close(data);
        }));
        rule.expressions.add(new Expression("redir", b -> {
            b.u32(NFTA_REDIR_REG_PROTO_MIN, NFT_REG_1);
            b.u32(NFTA_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
        }));
        rule.comment = comment;
        return rule;
    }

    private static int nfproto(IpFamily family) {
        return family == IpFamily.IPV4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
    }

    private static byte[] ifname(String name) {
        return Arrays.copyOf(name.getBytes(StandardCharsets.US_ASCII), IFNAMSIZ);
    }

    private static byte[] port(int port) {
        return new byte[] {(byte) (port >>> 8), (byte) port};
    }

    /** A 32-bit value as the kernel keeps a packet mark: in the host's byte order. */
    private static byte[] hostU32(int value) {
        return ByteBuffer.allocate(4).order(ByteOrder.nativeOrder()).putInt(value).array();
    }

    /** libnftnl's comment user data: type, length, the string with its NUL. */
    private static byte[] comment(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length + 1 > 255) {
            throw new RulesException("comment '" + text + "' is longer than nft's 254 bytes");
        }
        byte[] out = new byte[bytes.length + 3];
        out[0] = NFTNL_UDATA_COMMENT;
        out[1] = (byte) (bytes.length + 1);
        System.arraycopy(bytes, 0, out, 2, bytes.length);
        return out;
    }

    /** One expression: its name and how its attributes are written. */
    private record Expression(String name, Body body) {
    }

    @FunctionalInterface
    private interface Body {
        void write(Batch batch);
    }

    /** A rule as nft builds it: its expressions work on register 1; it ends in a verdict, redirect, mark or tproxy. */
    private static final class Rule {
        final String text;
        final List<Expression> expressions = new ArrayList<>();
        String comment;

        Rule(String text) {
            this.text = text;
        }

        Rule meta(int key) {
            expressions.add(new Expression("meta", b -> {
                b.u32(NFTA_META_DREG, NFT_REG_1);
                b.u32(NFTA_META_KEY, key);
            }));
            return this;
        }

        Rule payload(int base, int offset, int length) {
            expressions.add(new Expression("payload", b -> {
                b.u32(NFTA_PAYLOAD_DREG, NFT_REG_1);
                b.u32(NFTA_PAYLOAD_BASE, base);
                b.u32(NFTA_PAYLOAD_OFFSET, offset);
                b.u32(NFTA_PAYLOAD_LEN, length);
            }));
            return this;
        }

        Rule bitwise(byte[] mask, byte[] xor) {
            expressions.add(new Expression("bitwise", b -> {
                b.u32(NFTA_BITWISE_SREG, NFT_REG_1);
                b.u32(NFTA_BITWISE_DREG, NFT_REG_1);
                b.u32(NFTA_BITWISE_LEN, mask.length);
                int m = b.open(NFTA_BITWISE_MASK);
                b.bytes(NFTA_DATA_VALUE, mask);
                b.close(m);
                int x = b.open(NFTA_BITWISE_XOR);
                b.bytes(NFTA_DATA_VALUE, xor);
                b.close(x);
            }));
            return this;
        }

        Rule cmp(byte[] value) {
            expressions.add(new Expression("cmp", b -> {
                b.u32(NFTA_CMP_SREG, NFT_REG_1);
                b.u32(NFTA_CMP_OP, NFT_CMP_EQ);
                int data = b.open(NFTA_CMP_DATA);
                b.bytes(NFTA_DATA_VALUE, value);
                b.close(data);
            }));
            return this;
        }

        Rule ret() {
            expressions.add(new Expression("immediate", b -> {
                b.u32(NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT);
                int data = b.open(NFTA_IMMEDIATE_DATA);
                int verdict = b.open(NFTA_DATA_VERDICT);
                b.u32(NFTA_VERDICT_CODE, NFT_RETURN);
                b.close(verdict);
                b.close(data);
            }));
            return this;
        }
    }
}
