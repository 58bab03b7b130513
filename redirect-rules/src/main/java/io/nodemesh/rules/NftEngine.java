package io.nodemesh.rules;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@link RuleEngine} on nodemesh's own nftables table {@code inet nodemesh}, written and deleted over netlink
 * ({@link NftNetlink}: the same bytecode {@code nft -f} sends for {@link NftRenderer}'s text) and, in
 * {@link #install}, read back over netlink to see whether it is in sync ({@link NftTableImage}); listed with
 * {@code nft list table} for {@link #check}, whose differences are shown to people in nft's words. A
 * {@link CaptureMode#TPROXY} plan's policy rules and routes ({@link PolicyRoutes}) go in before its table, and
 * nodemesh's routes come out only after the table that marked for them, so that no packet is ever marked for a route
 * that is not there. A {@link CaptureMode#EBPF} plan has no rules: applying it adds nothing, installing it takes out
 * what an earlier capture left (nodemesh's table, iptables chains, routes), checking it expects none.
 */
final class NftEngine implements RuleEngine {

    @Override
    public String name() {
        return "nft";
    }

    @Override
    public void apply(RedirectPlan plan, Path netns) {
        ApplyGuard.refuseIfPresent(netns);
        if (plan.capture() == CaptureMode.EBPF) {
            return;
        }
        try (PolicyRoutes routes = routesFor(plan, netns, false)) {
            // A TPROXY plan's routes first: alone they route nothing (no packet has the mark yet), and a table that
            // cannot go in takes them out again.
            List<PolicyRoutes.Entry> others = routes == null ? List.of() : routes.ensure(plan);
            try (NftNetlink nft = NftNetlink.in(netns)) {
                nft.create(plan); // one transaction: the whole table lands or nothing does
            } catch (RulesException e) {
                if (routes != null) {
                    routes.remove();
                }
                throw e;
            }
            if (routes != null) {
                routes.delete(others);
            }
        }
    }

    /**
     * A session on the namespace's policy routing when {@code plan} needs one: a TPROXY plan, whose routes must be
     * there, or any plan replacing a table ({@code replacing}), which may have been a TPROXY one whose routes must go;
     * null otherwise (a REDIRECT pod in sync, a restart's usual case, opens none).
     */
    private static PolicyRoutes routesFor(RedirectPlan plan, Path netns, boolean replacing) {
        return plan.capture() == CaptureMode.TPROXY || replacing ? PolicyRoutes.in(netns) : null;
    }

    private static boolean removeRoutes(Path netns) {
        try (PolicyRoutes routes = PolicyRoutes.in(netns)) {
            return routes.remove();
        }
    }

    @Override
    public void prepare() {
        NftTableImage.of(RedirectPlan.builder().podLabel("nodemesh/prepare").build()); // the plan's side of a compare
        try (NftNetlink nft = NftNetlink.in(Path.of("/proc/thread-self/ns/net"))) {
            nft.tablePresent();
        }
    }

    @Override
    public Installed install(RedirectPlan plan, Path netns) {
        try (NftNetlink nft = NftNetlink.in(netns)) {
            NftNetlink.Survey found = nft.survey();
            List<String> iptables = found.iptablesChains();
            if (!iptables.isEmpty()) {
                RuleEngine.iptables().remove(netns);
            }
            NftTableImage live = found.image();
            if (plan.capture() == CaptureMode.EBPF) {
                boolean table = live != null && nft.delete();
                boolean routes = (table || !iptables.isEmpty()) && removeRoutes(netns);
                return table || routes || !iptables.isEmpty() ? Installed.REPLACED : Installed.KEPT;
            }
            boolean inSync = live != null && iptables.isEmpty() && live.equals(NftTableImage.of(plan));
            try (PolicyRoutes routes = routesFor(plan, netns, live != null && !inSync)) {
                // The plan's routes before its table marks anything (see apply); nodemesh's others only once the
                // table that may mark packets for them is replaced.
                List<PolicyRoutes.Entry> others = routes == null ? List.of() : routes.ensure(plan);
                Installed installed = table(nft, plan, live, inSync, iptables.isEmpty());
                if (routes != null) {
                    routes.delete(others);
                }
                return installed;
            }
        }
    }

    /** The table part of {@link #install}: kept when in sync, else replaced or created. */
    private static Installed table(NftNetlink nft, RedirectPlan plan, NftTableImage live, boolean inSync,
                                   boolean noIptables) {
        if (live != null) {
            // A table in sync (a restarted proxy's pods) is kept: it is read back over netlink and compared with
            // what the plan's transaction would send; replacing it costs an RCU grace period for this and the next
            // transaction (RESULTS.md, capture rules per pod).
            if (inSync) {
                return Installed.KEPT;
            }
            nft.replace(plan);
            return Installed.REPLACED;
        }
        // Not replace(): a transaction that deletes a table (even one it created) leaves the kernel work that
        // waits for an RCU grace period, and the next transaction on the machine waits for that work.
        nft.create(plan);
        return noIptables ? Installed.APPLIED : Installed.REPLACED;
    }

    @Override
    public CheckResult check(RedirectPlan plan, Path netns) {
        NetnsRunner.requireNamespace(netns);
        return compare(plan, netns, tablePresent(netns));
    }

    /** The plan against the live table, listed with nft when {@code present}. */
    private CheckResult compare(RedirectPlan plan, Path netns, boolean present) {
        Map<String, List<String>> live = new LinkedHashMap<>(present
                ? listingLines(NetnsRunner.runOk(netns, "nft", null, "list", "table", "inet", "nodemesh"))
                : Map.of());
        Map<String, List<String>> expected = new LinkedHashMap<>(listingLines(NftRenderer.render(plan)));
        // A TPROXY plan's policy routing is part of it; nodemesh's routes where the plan wants none are unexpected.
        List<PolicyRoutes.Entry> routes;
        try (PolicyRoutes r = PolicyRoutes.in(netns)) {
            routes = r.live();
        }
        live.putAll(PolicyRoutes.lines(routes));
        expected.putAll(PolicyRoutes.lines(PolicyRoutes.wanted(plan)));
        return CheckResult.compare(name(), present || !routes.isEmpty(), expected, live);
    }

    @Override
    public boolean remove(Path netns) {
        boolean table;
        try (NftNetlink nft = NftNetlink.in(netns)) {
            table = nft.delete();
        }
        return removeRoutes(netns) | table; // the table first: its marks would route nowhere without the routes
    }

    /** {@code nft table inet nodemesh} if that table is live; empty if not. */
    static String describePresence(Path netns) {
        return tablePresent(netns) ? "nft table " + NftRenderer.TABLE : "";
    }

    private static boolean tablePresent(Path netns) {
        try (NftNetlink nft = NftNetlink.in(netns)) {
            return nft.tablePresent();
        }
    }

    /**
     * The lines of an nft table listing grouped by block ({@code nft table}, {@code nft chain output}, …),
     * blank lines, braces and handle annotations dropped.
     */
    static Map<String, List<String>> listingLines(String listing) {
        Map<String, List<String>> places = new LinkedHashMap<>();
        String place = null;
        for (String raw : listing.split("\n")) {
            String line = raw.replaceAll("\\s*# handle \\d+$", "").strip();
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("table ") && line.endsWith("{")) {
                place = "nft table";
            } else if (line.endsWith("{")) {
                place = "nft " + line.substring(0, line.length() - 1).strip();
                places.computeIfAbsent(place, k -> new ArrayList<>());
            } else if (line.equals("}")) {
                place = "nft table";
            } else if (place != null) {
                places.computeIfAbsent(place, k -> new ArrayList<>()).add(line);
            }
        }
        return places;
    }
}
