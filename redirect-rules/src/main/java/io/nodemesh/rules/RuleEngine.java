package io.nodemesh.rules;

import java.nio.file.Path;

/**
 * Applies, checks and removes a {@link RedirectPlan} inside a network namespace given by path
 * ({@code /var/run/netns/NAME} or {@code /proc/PID/ns/net}). The iptables backend runs the tools there with
 * {@code nsenter --net=PATH}; the nft backend talks to nf_tables over netlink from the calling thread (a platform
 * thread) and runs {@code nft} only to list the table for {@link #check}. Every method fails with a
 * {@link RulesException} naming the namespace and carrying the tool's stderr or the kernel's reason.
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
     * Runs the backend's own code once without changing anything, so that what its first {@link #install} would pay
     * once (classes initialised, native calls linked, code run for the first time) is paid before it: a restarted
     * proxy calls it while it waits for its pods, then captures hundreds of them at once. nft: a netlink socket to
     * this thread's namespace asks whether {@code table inet nodemesh} is there (one lookup, not a dump), and a sample
     * plan's table image is built. iptables: nothing (each install runs its processes anyway).
     *
     * @throws RulesException when the backend cannot run here (no nf_tables, no CAP_NET_ADMIN)
     */
    default void prepare() {
    }

    /** What {@link #install} found and did. */
    enum Installed {
        /** The live rules were the plan's already; nothing changed. */
        KEPT,
        /** There were no nodemesh rules; the plan's went in. */
        APPLIED,
        /** nodemesh rules (of either backend, or of another plan) were there and were replaced by the plan's. */
        REPLACED
    }

    /**
     * Makes nodemesh's rules in the namespace exactly the plan's, replacing any of either backend (rules an earlier
     * proxy left): what the proxy does when it captures a pod, with as little work as the backend allows. nft: one
     * netlink dump that looks for iptables-nft leftovers, one lookup of the table, then one transaction that creates
     * the table, no process; a table that is there is listed with {@code nft} and kept when in sync, else swapped
     * whole in one transaction (never an instant without rules). iptables: rules in sync are kept; otherwise what is there is
     * removed and the plan applied, four processes for a namespace without nodemesh rules.
     */
    Installed install(RedirectPlan plan, Path netns);

    /**
     * Installs the plan atomically (one transaction per IP family for iptables, one for nft).
     *
     * @throws RulesException if the namespace already has nodemesh rules of either backend; nothing is changed then
     */
    void apply(RedirectPlan plan, Path netns);

    /**
     * Compares the live nodemesh rules of this backend with the plan; changes nothing. nft compares nodemesh's policy
     * rules and routes too (place {@code policy routing}): a TPROXY plan's must be there, others not.
     */
    CheckResult check(RedirectPlan plan, Path netns);

    /**
     * Removes nodemesh's chains and the jumps into them (nothing else), atomically per transaction; nft also removes
     * nodemesh's policy rules and routes (a TPROXY plan's, found by their routing protocol), after the table.
     *
     * @return false if there was nothing of nodemesh's to remove
     */
    boolean remove(Path netns);
}
