package io.nodemesh.rules;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * nodemesh's nft table in netlink terms, built the same way from the messages {@link NftMessages#table} sends for a
 * plan and from what the kernel dumps of the live table, so that the two compare with {@link #equals}: a restarted
 * proxy sees a pod's rules are in sync without an {@code nft} process (RESULTS.md, capture at scale).
 *
 * <p>Of each message only what defines the table's behaviour is kept: the table's comment and whether it is dormant;
 * each chain's hook, priority, policy and type, by name; each chain's rules in order, with their expressions and
 * comment. What the kernel adds for itself (handles, use counts, positions, the base-chain flag) is left out. Inside
 * a rule's expressions everything counts: attributes are compared by type and value (nested ones recursively),
 * whatever order they come in, so an expression the kernel dumps with an attribute nodemesh did not send reads as out
 * of sync. A difference only ever costs a replacement of the table; an equality is exact.
 */
final class NftTableImage {

    private static final int NLA_TYPE_MASK = 0x3fff; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
    private static final int NFTA_TABLE_FLAGS = 2;
    private static final int NFTA_TABLE_USERDATA = 6;
    private static final int NFT_TABLE_F_DORMANT = 0x1;
    private static final int NFTA_CHAIN_TABLE = 1;
    private static final int NFTA_CHAIN_NAME = 3;
    private static final Set<Integer> CHAIN_KEPT = Set.of(4, 5, 7); // HOOK, POLICY, TYPE
    private static final int NFTA_RULE_TABLE = 1;
    private static final int NFTA_RULE_CHAIN = 2;
    private static final Set<Integer> RULE_KEPT = Set.of(4, 7); // EXPRESSIONS, USERDATA

    private String table;
    private final Map<String, String> chains = new TreeMap<>();
    private final Map<String, List<String>> rules = new TreeMap<>();

    /** The table as {@link NftMessages#table} would create it for {@code plan}. */
    static NftTableImage of(RedirectPlan plan) {
        NftMessages.Batch batch = NftMessages.Batch.transaction();
        NftMessages.table(batch, plan, true);
        ByteBuffer bytes = batch.finish();
        NftTableImage image = new NftTableImage();
        for (int at = bytes.position(); at + NftMessages.HEADER <= bytes.limit(); ) {
            int length = bytes.getInt(at);
            image.add(bytes, at, bytes.getShort(at + 4) & 0xffff);
            at += (length + 3) & ~3;
        }
        return image;
    }

    /** An empty image, to {@link #add} the kernel's messages to. */
    static NftTableImage empty() {
        return new NftTableImage();
    }

    /**
     * Takes in one nf_tables message, a table, chain or rule of {@code table inet nodemesh} (others are ignored): the
     * message of type {@code type} at {@code at} in {@code in}.
     */
    void add(ByteBuffer in, int at, int type) {
        int family = in.get(at + NftMessages.HEADER) & 0xff;
        if (family != NftMessages.NFPROTO_INET) {
            return;
        }
        int attrs = at + NftMessages.HEADER + 4;
        int end = at + in.getInt(at);
        if (type == NftMessages.type(NftMessages.NFT_MSG_NEWTABLE)) {
            byte[] userdata = NftMessages.attribute(in, attrs, end, NFTA_TABLE_USERDATA);
            byte[] flags = NftMessages.attribute(in, attrs, end, NFTA_TABLE_FLAGS);
            boolean dormant = flags != null && flags.length == 4
                    && (ByteBuffer.wrap(flags).getInt() & NFT_TABLE_F_DORMANT) != 0;
            table = "comment " + (userdata == null ? "-" : HexFormat.of().formatHex(userdata))
                    + (dormant ? " dormant" : "");
        } else if (type == NftMessages.type(NftMessages.NFT_MSG_NEWCHAIN)) {
            if (ours(in, attrs, end, NFTA_CHAIN_TABLE)) {
                chains.put(String.valueOf(string(in, attrs, end, NFTA_CHAIN_NAME)),
                        canonical(in, attrs, end, CHAIN_KEPT, "chain"));
            }
        } else if (type == NftMessages.type(NftMessages.NFT_MSG_NEWRULE)) {
            if (ours(in, attrs, end, NFTA_RULE_TABLE)) {
                rules.computeIfAbsent(String.valueOf(string(in, attrs, end, NFTA_RULE_CHAIN)), k -> new ArrayList<>())
                        .add(canonical(in, attrs, end, RULE_KEPT, "rule"));
            }
        }
    }

    /**
     * The attributes from {@code from} to {@code end} as text, by type, values in hex and nested attributes
     * recursively; at this level only the types in {@code kept} (null: all). Which attributes nest is known from
     * {@code where} they are ({@link #nested}): nf_tables dumps nested attributes without {@code NLA_F_NESTED},
     * nodemesh sends them with it. Attributes of one type keep their order (a list's elements), others are sorted.
     */
    static String canonical(ByteBuffer in, int from, int end, Set<Integer> kept, String where) {
        List<int[]> attrs = new ArrayList<>();
        String expression = null;
        for (int at = from; at + 4 <= end; ) {
            int length = in.getShort(at) & 0xffff;
            if (length < 4 || at + length > end) {
                attrs.add(new int[] {-1, at, end - at}); // malformed: compared as it is
                break;
            }
            int type = in.getShort(at + 2) & NLA_TYPE_MASK;
            if ((kept == null || kept.contains(type)) && !kernelDefault(where, type, in, at, length)) {
                attrs.add(new int[] {type, at, length});
            }
            if (where.equals("elem") && type == 1) { // NFTA_EXPR_NAME
                expression = string(in, at, at + length, 1);
            }
            at += (length + 3) & ~3;
        }
        if (where.equals("expr:redir")) {
            dropRedirMaxLikeMin(in, attrs);
        }
        attrs.sort(Comparator.comparingInt(a -> a[0])); // stable: a list keeps its order
        StringBuilder out = new StringBuilder("{");
        for (int[] a : attrs) {
            if (out.length() > 1) {
                out.append(',');
            }
            String inner = a[0] < 0 ? null : nested(where, a[0], expression);
            out.append(a[0] < 0 ? "?" : Integer.toString(a[0]));
            if (inner != null) {
                out.append(canonical(in, a[1] + 4, a[1] + a[2], null, inner));
            } else {
                int skip = a[0] < 0 ? 0 : 4;
                byte[] value = new byte[a[2] - skip];
                in.get(a[1] + skip, value);
                out.append('=').append(HexFormat.of().formatHex(value));
            }
        }
        return out.append('}').toString();
    }

    /**
     * Whether the attribute is one the kernel dumps with its default value although it was not sent: a bitwise
     * expression's operation ({@code NFTA_BITWISE_OP}, 0 = mask and xor, the only one before Linux 5.6).
     */
    private static boolean kernelDefault(String where, int type, ByteBuffer in, int at, int length) {
        return where.equals("expr:bitwise") && type == 6 && length == 8 && in.getInt(at + 4) == 0;
    }

    /**
     * A redirect's upper port register ({@code NFTA_REDIR_REG_PROTO_MAX}) when it is the lower one's: the kernel
     * dumps it so when only the lower one was sent (as nft sends it), meaning the same.
     */
    private static void dropRedirMaxLikeMin(ByteBuffer in, List<int[]> attrs) {
        int[] min = attrs.stream().filter(a -> a[0] == 1 && a[2] == 8).findFirst().orElse(null);
        if (min != null) {
            attrs.removeIf(a -> a[0] == 2 && a[2] == 8 && in.getInt(a[1] + 4) == in.getInt(min[1] + 4));
        }
    }

    /**
     * What an attribute of {@code type} found in a {@code where} holds when it nests, or null when its value is plain:
     * a chain's hook; a rule's expression list, each element, each expression's data and a data's verdict.
     */
    private static String nested(String where, int type, String expression) {
        return switch (where) {
            case "chain" -> type == 4 ? "hook" : null; // NFTA_CHAIN_HOOK
            case "rule" -> type == 4 ? "list" : null; // NFTA_RULE_EXPRESSIONS
            case "list" -> type == 1 ? "elem" : null; // NFTA_LIST_ELEM
            case "elem" -> type == 2 ? "expr:" + expression : null; // NFTA_EXPR_DATA
            case "expr:cmp" -> type == 3 ? "data" : null; // NFTA_CMP_DATA
            case "expr:bitwise" -> type == 4 || type == 5 ? "data" : null; // NFTA_BITWISE_MASK, NFTA_BITWISE_XOR
            case "expr:immediate" -> type == 2 ? "data" : null; // NFTA_IMMEDIATE_DATA
            case "data" -> type == 2 ? "verdict" : null; // NFTA_DATA_VERDICT
            default -> null;
        };
    }

    private static boolean ours(ByteBuffer in, int from, int end, int tableAttr) {
        return NftMessages.TABLE.equals(string(in, from, end, tableAttr));
    }

    private static String string(ByteBuffer in, int from, int end, int wanted) {
        return NftMessages.text(NftMessages.attribute(in, from, end, wanted));
    }

    /** Where this image and {@code other} differ, for a log line; empty when they are equal. */
    String difference(NftTableImage other) {
        if (!Objects.equals(table, other.table)) {
            return "table: " + table + " against " + other.table;
        }
        if (!chains.equals(other.chains)) {
            return "chains: " + chains + " against " + other.chains;
        }
        Map<String, List<String>> mine = new LinkedHashMap<>(rules);
        for (String chain : union(mine.keySet(), other.rules.keySet())) {
            List<String> a = mine.getOrDefault(chain, List.of());
            List<String> b = other.rules.getOrDefault(chain, List.of());
            if (!a.equals(b)) {
                return "chain " + chain + ": " + a.size() + " rule(s) against " + b.size() + firstDifference(a, b);
            }
        }
        return "";
    }

    private static String firstDifference(List<String> a, List<String> b) {
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            if (!a.get(i).equals(b.get(i))) {
                return "; rule " + (i + 1) + ": " + a.get(i) + " against " + b.get(i);
            }
        }
        return "";
    }

    private static List<String> union(Set<String> a, Set<String> b) {
        List<String> all = new ArrayList<>(a);
        b.stream().filter(k -> !a.contains(k)).forEach(all::add);
        return all;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NftTableImage other && Objects.equals(table, other.table) && chains.equals(other.chains)
                && rules.equals(other.rules);
    }

    @Override
    public int hashCode() {
        return Objects.hash(table, chains, rules);
    }

    @Override
    public String toString() {
        return "table " + table + " chains " + chains + " rules " + rules;
    }
}
