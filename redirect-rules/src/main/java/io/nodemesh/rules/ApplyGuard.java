package io.nodemesh.rules;

import java.nio.file.Path;

/** Keeps an apply from stacking a second set of capture rules on a namespace that already has some. */
final class ApplyGuard {

    private ApplyGuard() {
    }

    /** Refuses when either backend's nodemesh rules are in the namespace, so two rule sets never fight. */
    static void refuseIfPresent(Path netns) {
        NetnsRunner.requireNamespace(netns);
        String found = IptablesEngine.describePresence(netns);
        if (found.isEmpty()) {
            found = NftEngine.describePresence(netns);
        }
        if (!found.isEmpty()) {
            throw new RulesException("network namespace " + netns + " already has nodemesh rules (" + found
                    + "); run `nodemesh rules check` or `rules remove` first");
        }
    }
}
