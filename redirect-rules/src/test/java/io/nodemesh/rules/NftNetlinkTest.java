package io.nodemesh.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The nft backend's netlink path against the real nf_tables of throw-away namespaces: the table it sends is the one
 * {@code nft} prints back as {@link NftRenderer}'s text (so it is the bytecode nft itself would send), for every
 * shape of plan; a replace is one transaction; a refused transaction changes nothing and says why; leftovers of the
 * other backend are found without a process and replaced.
 */
class NftNetlinkTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private static String listing(Netns ns) {
        return ns.execOk("nft", "list", "table", "inet", "nodemesh").stdout();
    }

    @Test
    void everyShapeOfPlanListsBackAsItsRendering() {
        List<RedirectPlan> plans = List.of(
                RenderingGoldenTest.defaults(),
                RenderingGoldenTest.everything(),
                RenderingGoldenTest.ipv4Only(),
                RedirectPlan.builder().ipv4(false).podLabel("v6/only").exemptCidr("fd00:10::/60").build(),
                // prefixes off a byte boundary (masked) and on one (shortened), the whole space, single hosts
                RedirectPlan.builder().podLabel("shop/cart-0")
                        .exemptCidr("10.0.0.0/31").exemptCidr("128.0.0.0/1").exemptCidr("0.0.0.0/0")
                        .exemptCidr("::/0").exemptCidr("2001:db8::/33").exemptCidr("172.16.0.0/16")
                        .exemptCidr("10.1.2.3").exemptCidr("fe80::/10")
                        .exemptPort(1).exemptPort(65535).exemptInboundPort(8443).build());
        for (RedirectPlan plan : plans) {
            Netns ns = net.namespace("nl");
            try (NftNetlink nft = NftNetlink.in(ns.path())) {
                assertThat(nft.tablePresent()).isFalse();
                assertThat(nft.survey().image()).isNull();
                nft.create(plan);
                assertThat(nft.tablePresent()).isTrue();
                // read back over netlink, the table is the plan's and no other plan's
                NftTableImage live = nft.survey().image();
                assertThat(live.difference(NftTableImage.of(plan))).as("plan %s", plan).isEmpty();
                assertThat(live).isEqualTo(NftTableImage.of(plan));
                for (RedirectPlan other : plans) {
                    if (other != plan) {
                        assertThat(live).as("plan %s against %s", plan, other).isNotEqualTo(NftTableImage.of(other));
                    }
                }
            }
            assertThat(listing(ns)).as("plan %s", plan).isEqualTo(NftRenderer.render(plan));
            assertThat(RuleEngine.nft().check(plan, ns.path()).inSync()).isTrue();
            assertThat(RuleEngine.nft().install(plan, ns.path())).isEqualTo(RuleEngine.Installed.KEPT);
        }
    }

    @Test
    void prepareChangesNothingInItsThreadsNamespaceAndFailsWhereNfTablesIsOutOfReach() throws Exception {
        Netns ns = net.namespace("prep");
        String before = ns.execOk("nft", "list", "ruleset").stdout();
        ns.call(() -> {
            RuleEngine.nft().prepare();
            return null;
        });
        assertThat(ns.execOk("nft", "list", "ruleset").stdout()).isEqualTo(before);
        assertThat(RuleEngine.nft().check(RenderingGoldenTest.defaults(), ns.path()).present()).isFalse();
        // A thread that cannot reach nf_tables gets the engine's own error (the proxy's captures report theirs).
        Thread virtual = Thread.ofVirtual().unstarted(() -> RuleEngine.nft().prepare());
        Throwable[] failed = new Throwable[1];
        virtual.setUncaughtExceptionHandler((t, e) -> failed[0] = e);
        virtual.start();
        virtual.join();
        assertThat(failed[0]).isInstanceOf(RulesException.class);
        RuleEngine.iptables().prepare(); // nothing to do, nothing to fail
    }

    @Test
    void aTableNftWroteFromTheRenderingIsKept() throws Exception {
        for (RedirectPlan plan : List.of(RenderingGoldenTest.defaults(), RenderingGoldenTest.everything())) {
            Netns ns = net.namespace("nftf");
            Path file = Files.createTempFile("nodemesh-table", ".nft");
            try {
                Files.writeString(file, NftRenderer.render(plan));
                ns.execOk("nft", "-f", file.toString());
            } finally {
                Files.delete(file);
            }
            assertThat(RuleEngine.nft().install(plan, ns.path())).as("plan %s", plan)
                    .isEqualTo(RuleEngine.Installed.KEPT);
        }
    }

    @Test
    void everyChangeToALiveTableIsSeenAndUndone() {
        RedirectPlan plan = RenderingGoldenTest.everything();
        Map<String, java.util.function.Consumer<Netns>> changes = new java.util.LinkedHashMap<>();
        changes.put("a rule deleted", ns -> ns.execOk("nft", "delete", "rule", "inet", "nodemesh", "output",
                "handle", handle(ns, "oifname \"lo\" return")));
        changes.put("a rule added", ns -> ns.execOk("nft", "add", "rule", "inet", "nodemesh", "prerouting",
                "tcp", "dport", "9999", "return"));
        changes.put("a rule inserted first", ns -> ns.execOk("nft", "insert", "rule", "inet", "nodemesh", "output",
                "tcp", "dport", "9999", "return"));
        changes.put("a port changed", ns -> ns.execOk("nft", "replace", "rule", "inet", "nodemesh", "prerouting",
                "handle", handle(ns, "redirect to :16006"), "meta", "l4proto", "tcp", "redirect", "to", ":16007"));
        changes.put("a comment dropped", ns -> ns.execOk("nft", "replace", "rule", "inet", "nodemesh", "prerouting",
                "handle", handle(ns, "redirect to :16006"), "meta", "l4proto", "tcp", "redirect", "to", ":16006"));
        changes.put("a policy changed", ns -> ns.execOk("nft", "chain", "inet", "nodemesh", "output",
                "{ policy drop; }"));
        changes.put("a chain added", ns -> ns.execOk("nft", "add", "chain", "inet", "nodemesh", "extra"));
        changes.put("the table made dormant", ns -> ns.execOk("nft", "add", "table", "inet", "nodemesh",
                "{ flags dormant; }"));
        for (var change : changes.entrySet()) {
            Netns ns = net.namespace("tamper");
            assertThat(RuleEngine.nft().install(plan, ns.path())).isEqualTo(RuleEngine.Installed.APPLIED);
            change.getValue().accept(ns);
            assertThat(listing(ns)).as(change.getKey()).isNotEqualTo(NftRenderer.render(plan));
            assertThat(RuleEngine.nft().install(plan, ns.path())).as(change.getKey())
                    .isEqualTo(RuleEngine.Installed.REPLACED);
            assertThat(listing(ns)).as(change.getKey()).isEqualTo(NftRenderer.render(plan));
            assertThat(RuleEngine.nft().install(plan, ns.path())).as(change.getKey())
                    .isEqualTo(RuleEngine.Installed.KEPT);
        }
    }

    /** The handle of the rule of the live table whose listing contains {@code text}. */
    private static String handle(Netns ns, String text) {
        for (String line : ns.execOk("nft", "-a", "list", "table", "inet", "nodemesh").stdout().split("\n")) {
            if (line.contains(text)) {
                return line.substring(line.lastIndexOf("# handle ") + "# handle ".length()).strip();
            }
        }
        throw new AssertionError("no rule with " + text + " in " + listing(ns));
    }

    @Test
    void installSwapsTheWholeTableInOneTransaction() {
        Netns ns = net.namespace("swap");
        RedirectPlan first = RenderingGoldenTest.everything();
        RedirectPlan second = RedirectPlan.builder().podLabel("shop/cart-1").exemptPort(5432).build();
        assertThat(RuleEngine.nft().install(first, ns.path())).isEqualTo(RuleEngine.Installed.APPLIED);
        assertThat(listing(ns)).isEqualTo(NftRenderer.render(first));
        assertThat(RuleEngine.nft().install(second, ns.path())).isEqualTo(RuleEngine.Installed.REPLACED);
        assertThat(listing(ns)).isEqualTo(NftRenderer.render(second));
        // the same plan again: kept, still exactly one table with one copy of each chain
        assertThat(RuleEngine.nft().install(second, ns.path())).isEqualTo(RuleEngine.Installed.KEPT);
        assertThat(ns.execOk("nft", "list", "ruleset").stdout()).isEqualTo(NftRenderer.render(second));
    }

    @Test
    void aRefusedTransactionChangesNothingAndSaysWhy() {
        Netns ns = net.namespace("refuse");
        RedirectPlan live = RenderingGoldenTest.defaults();
        try (NftNetlink nft = NftNetlink.in(ns.path())) {
            nft.create(live);
            // The table is the batch's first message; its chains and rules follow. The kernel refuses the table and
            // aborts the whole transaction: nothing of the second plan lands.
            assertThatThrownBy(() -> nft.create(RenderingGoldenTest.everything()))
                    .isInstanceOf(RulesException.class)
                    .hasMessageContaining("already has nodemesh rules (nft table inet nodemesh)")
                    .hasMessageContaining(ns.path().toString());
        }
        assertThat(listing(ns)).isEqualTo(NftRenderer.render(live));
        assertThatThrownBy(() -> RuleEngine.nft().apply(live, ns.path()))
                .hasMessageContaining("already has nodemesh rules");
    }

    @Test
    void deleteTakesTheTableAndSaysWhenThereWasNone() {
        Netns ns = net.namespace("del");
        ns.execOk("nft", "add table inet foreign; add chain inet foreign c { type nat hook output priority 0; }");
        RuleEngine.nft().apply(RenderingGoldenTest.defaults(), ns.path());
        assertThat(RuleEngine.nft().remove(ns.path())).isTrue();
        assertThat(RuleEngine.nft().remove(ns.path())).isFalse();
        assertThat(ns.execOk("nft", "list", "tables").stdout().strip()).isEqualTo("table inet foreign");
    }

    @Test
    void iptablesLeftoversAreFoundWithoutAProcessAndReplaced() {
        Netns ns = net.namespace("mixed");
        RuleEngine.iptables().apply(RenderingGoldenTest.defaults(), ns.path());
        try (NftNetlink nft = NftNetlink.in(ns.path())) {
            assertThat(nft.survey().iptablesChains()).containsExactlyInAnyOrder(
                    "iptables NODEMESH_OUTPUT", "iptables NODEMESH_PREROUTING",
                    "ip6tables NODEMESH_OUTPUT", "ip6tables NODEMESH_PREROUTING");
        }
        RedirectPlan plan = RenderingGoldenTest.everything();
        assertThat(RuleEngine.nft().install(plan, ns.path())).isEqualTo(RuleEngine.Installed.REPLACED);
        assertThat(ns.execOk("iptables-save", "-t", "nat").stdout()).doesNotContain("NODEMESH");
        assertThat(ns.execOk("ip6tables-save", "-t", "nat").stdout()).doesNotContain("NODEMESH");
        assertThat(listing(ns)).isEqualTo(NftRenderer.render(plan));
        try (NftNetlink nft = NftNetlink.in(ns.path())) {
            assertThat(nft.survey().iptablesChains()).isEmpty();
        }
    }

    @Test
    void theIptablesBackendKeepsRulesInSyncAndTakesAnNftTableAway() {
        Netns ns = net.namespace("ipt");
        RedirectPlan plan = RenderingGoldenTest.defaults();
        RuleEngine.nft().apply(plan, ns.path());
        assertThat(RuleEngine.iptables().install(plan, ns.path())).isEqualTo(RuleEngine.Installed.REPLACED);
        assertThat(ns.execOk("nft", "list", "tables").stdout()).doesNotContain("nodemesh");
        assertThat(RuleEngine.iptables().check(plan, ns.path()).inSync()).isTrue();
        assertThat(RuleEngine.iptables().install(plan, ns.path())).isEqualTo(RuleEngine.Installed.KEPT);
        Netns fresh = net.namespace("iptnew");
        assertThat(RuleEngine.iptables().install(plan, fresh.path())).isEqualTo(RuleEngine.Installed.APPLIED);
    }

    @Test
    void aPathThatIsNotANamespaceIsNamed() throws Exception {
        Path notANamespace = Files.createTempFile("nodemesh-not-a-netns", "");
        try {
            assertThatThrownBy(() -> RuleEngine.nft().install(RenderingGoldenTest.defaults(), notANamespace))
                    .isInstanceOf(RulesException.class)
                    .hasMessageContaining("cannot open a netlink socket to nf_tables in network namespace "
                            + notANamespace)
                    .hasMessageContaining("not a usable network namespace");
        } finally {
            Files.delete(notANamespace);
        }
    }
}
