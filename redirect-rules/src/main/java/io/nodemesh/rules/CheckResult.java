package io.nodemesh.rules;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * How a namespace's live nodemesh rules compare with a plan.
 *
 * @param backend which backend looked ({@code iptables} or {@code nft})
 * @param present whether any nodemesh rules or chains were found at all
 * @param missing planned lines that are not live, each prefixed by where it belongs
 * @param unexpected live nodemesh lines the plan does not have, each prefixed by where it was found
 * @param reordered places whose lines are all there but in another order (order decides what matches first)
 */
public record CheckResult(String backend, boolean present, List<String> missing, List<String> unexpected,
                          List<String> reordered) {

    public CheckResult {
        missing = List.copyOf(missing);
        unexpected = List.copyOf(unexpected);
        reordered = List.copyOf(reordered);
    }

    /** This result and {@code other}'s (another place the plan is installed in), under this one's backend. */
    public CheckResult and(CheckResult other) {
        List<String> m = new ArrayList<>(missing);
        m.addAll(other.missing);
        List<String> u = new ArrayList<>(unexpected);
        u.addAll(other.unexpected);
        List<String> r = new ArrayList<>(reordered);
        r.addAll(other.reordered);
        return new CheckResult(backend, present || other.present, m, u, r);
    }

    /** True when the live rules are exactly the plan, in order. */
    public boolean inSync() {
        return missing.isEmpty() && unexpected.isEmpty() && reordered.isEmpty();
    }

    /**
     * Compares expected and live lines grouped by place (a chain, qualified by family or table);
     * within a place, lines are compared as multisets, and equal multisets in another order count as reordered.
     */
    static CheckResult compare(String backend, boolean present, Map<String, List<String>> expected,
                               Map<String, List<String>> live) {
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> reordered = new ArrayList<>();
        Set<String> places = new LinkedHashSet<>(expected.keySet());
        places.addAll(live.keySet());
        for (String place : places) {
            List<String> want = expected.getOrDefault(place, List.of());
            List<String> have = live.getOrDefault(place, List.of());
            Map<String, Integer> remaining = new HashMap<>();
            have.forEach(line -> remaining.merge(line, 1, Integer::sum));
            int before = missing.size();
            for (String line : want) {
                if (remaining.getOrDefault(line, 0) > 0) {
                    remaining.merge(line, -1, Integer::sum);
                } else {
                    missing.add(place + ": " + line);
                }
            }
            Map<String, Integer> wanted = new HashMap<>();
            want.forEach(line -> wanted.merge(line, 1, Integer::sum));
            int unexpectedBefore = unexpected.size();
            for (String line : have) {
                if (wanted.getOrDefault(line, 0) > 0) {
                    wanted.merge(line, -1, Integer::sum);
                } else {
                    unexpected.add(place + ": " + line);
                }
            }
            if (missing.size() == before && unexpected.size() == unexpectedBefore && !want.equals(have)) {
                reordered.add(place);
            }
        }
        return new CheckResult(backend, present, missing, unexpected, reordered);
    }

    @Override
    public String toString() {
        if (inSync()) {
            return backend + ": nodemesh rules are in sync with the plan";
        }
        StringBuilder out = new StringBuilder(backend).append(": ");
        out.append(present ? "nodemesh rules differ from the plan" : "no nodemesh rules are present");
        if (present) {
            missing.forEach(line -> out.append("\n  missing:    ").append(line));
            unexpected.forEach(line -> out.append("\n  unexpected: ").append(line));
            reordered.forEach(place -> out.append("\n  reordered:  ").append(place)
                    .append(" has the planned rules in another order"));
        } else {
            out.append(" (").append(missing.size()).append(" planned lines missing)");
        }
        return out.toString();
    }
}
