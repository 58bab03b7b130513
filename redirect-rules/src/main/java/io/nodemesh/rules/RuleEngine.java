package io.nodemesh.rules;

import java.nio.file.Path;

/**
 * Applies, checks and removes a {@link RedirectPlan} inside a network namespace given by path
 * ({@code /var/run/netns/NAME} or {@code /proc/PID/ns/net}), by running the netfilter tools there
 * with {@code nsenter --net=PATH}. Every method fails with a {@link RulesException} naming the
 * namespace or carrying the tool's stderr.
 */
public sealed interface RuleEngine permits IptablesEngine, NftEngine {

    /** The backend that writes the nat table with iptables-restore / ip6tables-restore. */
    static RuleEngine iptables() {
        return new IptablesEngine();
    }

    /** The backend that writes {@code table inet nodemesh} with nft. */
    static RuleEngine nft() {
        return new NftEngine();
    }

    /** The backend by name, {@code iptables} or {@code nft}. */
    static RuleEngine named(String name) {
        return switch (name) {
            case "iptables" -> iptables();
            case "nft" -> nft();
            default -> throw new RulesException("backend: '" + name + "' is not one of iptables, nft");
        };
    }

    /** {@code iptables} or {@code nft}. */
    String name();

    /**
     * Installs the plan atomically (one transaction per IP family for iptables, one for nft).
     *
     * @throws RulesException if the namespace already has nodemesh rules of either backend; nothing is changed then
     */
    void apply(RedirectPlan plan, Path netns);

    /** Compares the live nodemesh rules of this backend with the plan; changes nothing. */
    CheckResult check(RedirectPlan plan, Path netns);

    /**
     * Removes nodemesh's chains and the jumps into them (nothing else), atomically per transaction.
     *
     * @return false if there was nothing of nodemesh's to remove
     */
    boolean remove(Path netns);
}
