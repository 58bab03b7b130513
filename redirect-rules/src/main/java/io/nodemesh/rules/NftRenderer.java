package io.nodemesh.rules;

import java.util.ArrayList;
import java.util.List;

/**
 * Renders a plan as {@code nft -f} input: one {@code table inet nodemesh} (both families in one
 * table, so one transaction applies or deletes everything) with a nat {@code output} and
 * {@code prerouting} base chain at priority -100 (dstnat), or for a {@link CaptureMode#TPROXY} plan a
 * route-type {@code output} and a filter {@code prerouting} chain at priority mangle that mark and
 * {@code tproxy} instead of translating. A family the plan does not capture is
 * skipped by a leading {@code meta nfproto … return}. The text is exactly what
 * {@code nft list table inet nodemesh} prints back, so it doubles as the expected listing. A
 * {@link CaptureMode#EBPF} plan has no table (empty text): its capture is all eBPF programs.
 */
public final class NftRenderer {

    /** The nft table family and name nodemesh owns. */
    public static final String TABLE = "inet nodemesh";

    private NftRenderer() {
    }

    /** The full table definition, in nft's listing form (tab indented). */
    public static String render(RedirectPlan plan) {
        if (plan.capture() == CaptureMode.EBPF) {
            return "";
        }
        String comment = " comment \"" + plan.comment() + "\"";
        List<String> out = new ArrayList<>();
        out.add("table " + TABLE + " {");
        out.add("\tcomment \"" + plan.comment() + "\"");
        if (plan.capture() != CaptureMode.REDIRECT) {
            tproxyChains(plan, comment, out);
            return String.join("\n", out) + "\n";
        }
        out.add("\tchain output {");
        out.add("\t\ttype nat hook output priority -100; policy accept;");
        outboundExemptions(plan, out);
        out.add("\t\tmeta l4proto tcp redirect to :" + plan.outboundPort() + comment);
        out.add("\t}");
        out.add("");
        out.add("\tchain prerouting {");
        out.add("\t\ttype nat hook prerouting priority dstnat; policy accept;");
        skipUncapturedFamily(plan, out);
        out.add("\t\tiifname \"lo\" return");
        for (int port : plan.exemptInboundPorts()) {
            out.add("\t\ttcp dport " + port + " return");
        }
        out.add("\t\tmeta l4proto tcp redirect to :" + plan.inboundPort() + comment);
        out.add("\t}");
        out.add("}");
        return String.join("\n", out) + "\n";
    }

    /**
     * {@link CaptureMode#TPROXY}'s chains: {@code output} (type route, priority mangle) marks outbound TCP, which the
     * policy route then delivers through {@code lo} (not the replies of connections accepted on an exempt inbound
     * port: this chain sees every packet, not a connection's first); {@code prerouting} (type filter, priority
     * mangle) gives those marked packets to the outbound port and inbound TCP to the inbound port with
     * {@code tproxy}, rewriting nothing.
     */
    private static void tproxyChains(RedirectPlan plan, String comment, List<String> out) {
        out.add("\tchain output {");
        out.add("\t\ttype route hook output priority mangle; policy accept;");
        outboundExemptions(plan, out);
        for (int port : plan.exemptInboundPorts()) {
            out.add("\t\ttcp sport " + port + " return");
        }
        out.add("\t\tmeta l4proto tcp " + tproxyMarkSet(plan) + comment);
        out.add("\t}");
        out.add("");
        out.add("\tchain prerouting {");
        out.add("\t\ttype filter hook prerouting priority mangle; policy accept;");
        skipUncapturedFamily(plan, out);
        out.add("\t\tmeta l4proto tcp " + tproxyMarkMatch(plan) + " tproxy to :" + plan.outboundPort());
        inboundTproxy(plan, comment, out);
    }

    /** The rest of the tproxy prerouting chain (inbound TCP to the inbound port) and the table's end. */
    private static void inboundTproxy(RedirectPlan plan, String comment, List<String> out) {
        out.add("\t\tiifname \"lo\" return");
        for (int port : plan.exemptInboundPorts()) {
            out.add("\t\ttcp dport " + port + " return");
        }
        out.add("\t\tmeta l4proto tcp tproxy to :" + plan.inboundPort() + comment);
        out.add("\t}");
        out.add("}");
    }

    /**
     * The statement that puts the TPROXY mark on a packet, keeping its bits outside the mask, as nft lists it (it
     * shows {@code (mark & ~mask) ^ tproxyMark} as {@code mark & (~mask | tproxyMark) | tproxyMark}).
     */
    static String tproxyMarkSet(RedirectPlan plan) {
        return plan.markMask() == -1
                ? String.format("meta mark set 0x%08x", plan.tproxyMark())
                : String.format("meta mark set meta mark & 0x%08x | 0x%08x", ~plan.markMask() | plan.tproxyMark(),
                        plan.tproxyMark());
    }

    /** The match for the TPROXY mark under the mask. */
    static String tproxyMarkMatch(RedirectPlan plan) {
        String value = String.format("0x%08x", plan.tproxyMark());
        return plan.markMask() == -1
                ? "meta mark " + value
                : "meta mark & " + String.format("0x%08x", plan.markMask()) + " == " + value;
    }

    /** What the output chain lets through uncaptured, either capture: the proxy's mark, loopback, exemptions. */
    private static void outboundExemptions(RedirectPlan plan, List<String> out) {
        skipUncapturedFamily(plan, out);
        out.add("\t\t" + markMatch(plan) + " return");
        out.add("\t\toifname \"lo\" return");
        for (IpFamily family : plan.families()) {
            out.add("\t\t" + daddr(family) + " " + family.loopback().nftForm() + " return");
        }
        for (Cidr cidr : plan.exemptCidrs()) {
            out.add("\t\t" + daddr(cidr.family()) + " " + cidr.nftForm() + " return");
        }
        for (int port : plan.exemptOutboundPorts()) {
            out.add("\t\ttcp dport " + port + " return");
        }
    }

    private static void skipUncapturedFamily(RedirectPlan plan, List<String> out) {
        for (IpFamily family : IpFamily.values()) {
            if (!plan.covers(family)) {
                out.add("\t\tmeta nfproto " + (family == IpFamily.IPV4 ? "ipv4" : "ipv6") + " return");
            }
        }
    }

    private static String daddr(IpFamily family) {
        return family == IpFamily.IPV4 ? "ip daddr" : "ip6 daddr";
    }

    static String markMatch(RedirectPlan plan) {
        String value = String.format("0x%08x", plan.mark());
        return plan.markMask() == -1
                ? "meta mark " + value
                : "meta mark & " + String.format("0x%08x", plan.markMask()) + " == " + value;
    }
}
