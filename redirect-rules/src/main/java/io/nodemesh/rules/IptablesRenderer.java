package io.nodemesh.rules;

import java.util.ArrayList;
import java.util.List;

/**
 * Renders a plan as {@code iptables-restore} / {@code ip6tables-restore} input for the nat table,
 * written in exactly the canonical form {@code iptables-save} prints, so the same lines serve to
 * apply the plan and to compare it with what is live.
 *
 * <p>Layout: own chains {@value #OUTPUT_CHAIN} and {@value #PREROUTING_CHAIN}, appended to the
 * built-in {@code OUTPUT} / {@code PREROUTING} by one TCP-only jump each. Outbound returns early
 * for the proxy's mark, {@code -o lo}, loopback destinations, exempt CIDRs and exempt ports, then
 * redirects to the outbound port; inbound returns for {@code -i lo} and the exempt inbound ports
 * (proxy ports included), then redirects to the inbound port.
 */
public final class IptablesRenderer {

    /** nodemesh's outbound chain in the nat table. */
    public static final String OUTPUT_CHAIN = "NODEMESH_OUTPUT";
    /** nodemesh's inbound chain in the nat table. */
    public static final String PREROUTING_CHAIN = "NODEMESH_PREROUTING";
    /** Every chain nodemesh owns starts with this. */
    public static final String CHAIN_PREFIX = "NODEMESH_";

    private IptablesRenderer() {
    }

    /** The complete restore input for one family ({@code *nat} … {@code COMMIT}), for use with {@code --noflush}. */
    public static String render(RedirectPlan plan, IpFamily family) {
        StringBuilder out = new StringBuilder("*nat\n");
        for (String line : lines(plan, family)) {
            out.append(line).append('\n');
        }
        return out.append("COMMIT\n").toString();
    }

    /** The chain declarations and rules of one family, one line each, in iptables-save form. */
    public static List<String> lines(RedirectPlan plan, IpFamily family) {
        String comment = "-m comment --comment " + saveString(plan.comment());
        List<String> lines = new ArrayList<>();
        lines.add(":" + OUTPUT_CHAIN + " - [0:0]");
        lines.add(":" + PREROUTING_CHAIN + " - [0:0]");
        lines.add("-A PREROUTING -p tcp " + comment + " -j " + PREROUTING_CHAIN);
        lines.add("-A OUTPUT -p tcp " + comment + " -j " + OUTPUT_CHAIN);

        String out = "-A " + OUTPUT_CHAIN + " ";
        lines.add(out + "-m mark --mark " + markMatch(plan) + " -j RETURN");
        lines.add(out + "-o lo -j RETURN");
        lines.add(out + "-d " + family.loopback().iptablesForm() + " -j RETURN");
        for (Cidr cidr : plan.exemptCidrs(family)) {
            lines.add(out + "-d " + cidr.iptablesForm() + " -j RETURN");
        }
        for (int port : plan.exemptOutboundPorts()) {
            lines.add(out + "-p tcp -m tcp --dport " + port + " -j RETURN");
        }
        lines.add(out + "-p tcp " + comment + " -j REDIRECT --to-ports " + plan.outboundPort());

        String in = "-A " + PREROUTING_CHAIN + " ";
        lines.add(in + "-i lo -j RETURN");
        for (int port : plan.exemptInboundPorts()) {
            lines.add(in + "-p tcp -m tcp --dport " + port + " -j RETURN");
        }
        lines.add(in + "-p tcp " + comment + " -j REDIRECT --to-ports " + plan.inboundPort());
        return lines;
    }

    /** Quotes like iptables' xtables_save_string: bare only when every character is [A-Za-z0-9_-]. */
    private static String saveString(String value) {
        // The plan's pod label admits no quote or backslash, so no escaping is ever needed.
        return value.matches("[A-Za-z0-9_-]+") ? value : "\"" + value + "\"";
    }

    private static String markMatch(RedirectPlan plan) {
        String value = "0x" + Integer.toHexString(plan.mark());
        // iptables-save omits a full mask.
        return plan.markMask() == -1 ? value : value + "/0x" + Integer.toHexString(plan.markMask());
    }
}
