package io.nodemesh.rules;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@link RuleEngine} on nodemesh's own nftables table {@code inet nodemesh}, via {@code nft -f}. */
final class NftEngine implements RuleEngine {

    @Override
    public String name() {
        return "nft";
    }

    @Override
    public void apply(RedirectPlan plan, Path netns) {
        ApplyGuard.refuseIfPresent(netns);
        // One nft -f run is one netlink transaction: the whole table lands or nothing does.
        NetnsRunner.runOk(netns, "nft", NftRenderer.render(plan), "-f", "-");
    }

    @Override
    public CheckResult check(RedirectPlan plan, Path netns) {
        NetnsRunner.requireNamespace(netns);
        boolean present = tablePresent(netns);
        Map<String, List<String>> live = present
                ? listingLines(NetnsRunner.runOk(netns, "nft", null, "list", "table", "inet", "nodemesh"))
                : Map.of();
        return CheckResult.compare(name(), present, listingLines(NftRenderer.render(plan)), live);
    }

    @Override
    public boolean remove(Path netns) {
        NetnsRunner.requireNamespace(netns);
        if (!tablePresent(netns)) {
            return false;
        }
        NetnsRunner.runOk(netns, "nft", null, "delete", "table", "inet", "nodemesh");
        return true;
    }

    /** {@code nft table inet nodemesh} if that table is live; empty if not (or nft is not installed). */
    static String describePresence(Path netns) {
        try {
            return tablePresent(netns) ? "nft table " + NftRenderer.TABLE : "";
        } catch (RulesException e) {
            if (e.getMessage().contains("not found on PATH")) {
                return "";
            }
            throw e;
        }
    }

    private static boolean tablePresent(Path netns) {
        String tables = NetnsRunner.runOk(netns, "nft", null, "list", "tables");
        return tables.lines().anyMatch(line -> line.strip().equals("table " + NftRenderer.TABLE));
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
