package io.nodemesh.rules;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@link RuleEngine} on the iptables nat table of each IP family, via iptables-restore --noflush. */
final class IptablesEngine implements RuleEngine {

    @Override
    public String name() {
        return "iptables";
    }

    @Override
    public void apply(RedirectPlan plan, Path netns) {
        requireRedirect(plan);
        ApplyGuard.refuseIfPresent(netns);
        restore(plan, netns);
    }

    @Override
    public Installed install(RedirectPlan plan, Path netns) {
        requireRedirect(plan);
        CheckResult live = check(plan, netns);
        if (live.inSync()) {
            return Installed.KEPT;
        }
        if (live.present()) {
            remove(netns);
        }
        boolean nft;
        try (NftNetlink netlink = NftNetlink.in(netns)) {
            nft = netlink.delete();
        } catch (RulesException e) {
            nft = false; // no nf_tables to hold a table of the other backend
        }
        restore(plan, netns);
        return live.present() || nft ? Installed.REPLACED : Installed.APPLIED;
    }

    /** iptables-restore --noflush of each family's rules; a family that fails undoes the ones before it. */
    private static void restore(RedirectPlan plan, Path netns) {
        List<IpFamily> done = new ArrayList<>();
        for (IpFamily family : plan.families()) {
            NetnsRunner.Result result = NetnsRunner.run(netns, family.iptablesTool() + "-restore",
                    IptablesRenderer.render(plan, family), "--noflush");
            if (!result.ok()) {
                // The failed family's transaction changed nothing; undo the families that succeeded.
                done.forEach(applied -> removeFamily(netns, applied));
                throw new RulesException(family.iptablesTool() + "-restore in " + netns + " failed (exit "
                        + result.exitCode() + "), nothing applied: " + result.stderr().strip());
            }
            done.add(family);
        }
    }

    @Override
    public CheckResult check(RedirectPlan plan, Path netns) {
        requireRedirect(plan);
        NetnsRunner.requireNamespace(netns);
        Map<String, List<String>> expected = new LinkedHashMap<>();
        Map<String, List<String>> live = new LinkedHashMap<>();
        for (IpFamily family : IpFamily.values()) {
            if (plan.covers(family)) {
                expected.putAll(nodemeshLines(family, IptablesRenderer.render(plan, family)));
            }
            live.putAll(nodemeshLines(family, save(netns, family)));
        }
        return CheckResult.compare(name(), !live.isEmpty(), expected, live);
    }

    @Override
    public boolean remove(Path netns) {
        NetnsRunner.requireNamespace(netns);
        boolean removed = false;
        for (IpFamily family : IpFamily.values()) {
            removed |= removeFamily(netns, family);
        }
        return removed;
    }

    /** Which nodemesh chains are live, e.g. {@code iptables NODEMESH_OUTPUT}; empty if none (or no iptables). */
    static String describePresence(Path netns) {
        List<String> found = new ArrayList<>();
        for (IpFamily family : IpFamily.values()) {
            try {
                found.addAll(nodemeshLines(family, save(netns, family)).keySet());
            } catch (RulesException e) {
                if (!e.getMessage().contains("not found on PATH")) {
                    throw e;
                }
            }
        }
        return String.join(", ", found);
    }

    private static boolean removeFamily(Path netns, IpFamily family) {
        Map<String, List<String>> live = nodemeshLines(family, save(netns, family));
        if (live.isEmpty()) {
            return false;
        }
        List<String> deleteJumps = new ArrayList<>();
        List<String> chains = new ArrayList<>();
        for (List<String> lines : live.values()) {
            for (String line : lines) {
                if (line.startsWith(":")) {
                    chains.add(line.substring(1, line.indexOf(' ')));
                } else if (!line.startsWith("-A " + IptablesRenderer.CHAIN_PREFIX)) {
                    deleteJumps.add("-D" + line.substring(2));
                }
            }
        }
        StringBuilder input = new StringBuilder("*nat\n");
        deleteJumps.forEach(line -> input.append(line).append('\n'));
        chains.forEach(chain -> input.append("-F ").append(chain).append('\n'));
        chains.forEach(chain -> input.append("-X ").append(chain).append('\n'));
        input.append("COMMIT\n");
        NetnsRunner.runOk(netns, family.iptablesTool() + "-restore", input.toString(), "--noflush");
        return true;
    }

    private static String save(Path netns, IpFamily family) {
        return NetnsRunner.runOk(netns, family.iptablesTool() + "-save", null, "-t", "nat");
    }

    /**
     * The nodemesh part of a nat table in save form, grouped by place ({@code <tool> <chain>}): the
     * declarations and rules of NODEMESH_ chains, and rules elsewhere that jump into them. Packet
     * counters are zeroed so that a live table compares with a rendering.
     */
    static Map<String, List<String>> nodemeshLines(IpFamily family, String saveText) {
        Map<String, List<String>> places = new LinkedHashMap<>();
        boolean inNat = false;
        for (String raw : saveText.split("\n")) {
            String line = raw.strip();
            if (line.startsWith("*")) {
                inNat = line.equals("*nat");
                continue;
            }
            if (!inNat || line.isEmpty() || line.startsWith("#") || line.equals("COMMIT")) {
                continue;
            }
            if (line.startsWith(":" + IptablesRenderer.CHAIN_PREFIX)) {
                String chain = line.substring(1, line.indexOf(' ') < 0 ? line.length() : line.indexOf(' '));
                places.computeIfAbsent(family.iptablesTool() + " " + chain, k -> new ArrayList<>())
                        .add(":" + chain + " - [0:0]");
            } else if (line.startsWith("-A ")) {
                String chain = line.split(" ", 3)[1];
                boolean ours = chain.startsWith(IptablesRenderer.CHAIN_PREFIX)
                        || line.contains(" -j " + IptablesRenderer.CHAIN_PREFIX)
                        || line.contains(" -g " + IptablesRenderer.CHAIN_PREFIX);
                if (ours) {
                    places.computeIfAbsent(family.iptablesTool() + " " + chain, k -> new ArrayList<>()).add(line);
                }
            }
        }
        return places;
    }

    /** This backend writes nat REDIRECT rules only; a TPROXY plan is refused before anything changes. */
    private static void requireRedirect(RedirectPlan plan) {
        if (plan.capture() != CaptureMode.REDIRECT) {
            throw new RulesException("capture: " + plan.capture().configName() + " needs the nft backend (rules: nft); "
                    + "the iptables backend writes nat REDIRECT rules only");
        }
    }
}
