package io.nodemesh.rules;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** apply / check / remove against the real netfilter of throw-away namespaces, for both backends. */
class RuleEngineNetnsTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private static final List<String> FOREIGN_IPTABLES = List.of(
            "-A OUTPUT -d 10.77.9.9/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.77.9.10:8080",
            "-A FOREIGN -p tcp -m tcp --dport 2222 -j RETURN",
            "-A PREROUTING -j FOREIGN");

    @ParameterizedTest
    @ValueSource(strings = {"iptables", "nft"})
    void appliedPlansAreInSyncAndLiveRulesEqualTheRendering(String backend) {
        RuleEngine engine = RuleEngine.named(backend);
        for (RedirectPlan plan : List.of(RenderingGoldenTest.defaults(), RenderingGoldenTest.everything(),
                RenderingGoldenTest.ipv4Only())) {
            Netns ns = net.namespace("rt");
            assertThat(engine.check(plan, ns.path()).present()).isFalse();
            engine.apply(plan, ns.path());
            CheckResult result = engine.check(plan, ns.path());
            assertThat(result.inSync()).as("%s", result).isTrue();
            assertThat(result.present()).isTrue();
            // Independently of check(): what the tools print back contains the rendering verbatim.
            if (backend.equals("nft")) {
                assertThat(ns.execOk("nft", "list", "table", "inet", "nodemesh").stdout())
                        .isEqualTo(NftRenderer.render(plan));
            } else {
                for (IpFamily family : plan.families()) {
                    String save = ns.execOk(family.iptablesTool() + "-save", "-t", "nat").stdout();
                    assertThat(save.lines().toList())
                            .containsSubsequence(IptablesRenderer.lines(plan, family).stream()
                                    .filter(l -> l.startsWith("-A NODEMESH_OUTPUT")).toList());
                    assertThat(save).contains(IptablesRenderer.lines(plan, family).stream()
                            .filter(l -> l.startsWith("-A")).toList());
                }
            }
        }
    }

    @Test
    void ipv4OnlyPlanLeavesIp6tablesUntouched() {
        Netns ns = net.namespace("v4");
        RuleEngine.iptables().apply(RenderingGoldenTest.ipv4Only(), ns.path());
        assertThat(ns.execOk("ip6tables-save", "-t", "nat").stdout()).doesNotContain("NODEMESH");
        assertThat(ns.execOk("iptables-save", "-t", "nat").stdout()).contains(":NODEMESH_OUTPUT");
    }

    @ParameterizedTest
    @ValueSource(strings = {"iptables", "nft"})
    void applyingTwiceIsRefusedAndChangesNothing(String backend) {
        RuleEngine engine = RuleEngine.named(backend);
        Netns ns = net.namespace("twice");
        engine.apply(RenderingGoldenTest.defaults(), ns.path());
        String before = snapshot(ns);
        for (RuleEngine second : List.of(RuleEngine.iptables(), RuleEngine.nft())) {
            assertThatThrownBy(() -> second.apply(RenderingGoldenTest.everything(), ns.path()))
                    .isInstanceOf(RulesException.class)
                    .hasMessageContaining(ns.path().toString())
                    .hasMessageContaining("already has nodemesh rules")
                    .hasMessageContaining("rules remove");
        }
        assertThat(snapshot(ns)).isEqualTo(before);
        assertThat(engine.check(RenderingGoldenTest.defaults(), ns.path()).inSync()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"iptables", "nft"})
    void removeTakesOnlyNodemeshRules(String backend) {
        RuleEngine engine = RuleEngine.named(backend);
        Netns ns = net.namespace("rm");
        addForeignRules(ns);
        String foreignBefore = snapshot(ns);
        engine.apply(RenderingGoldenTest.everything(), ns.path());
        assertThat(snapshot(ns)).isNotEqualTo(foreignBefore);

        assertThat(engine.remove(ns.path())).isTrue();
        CheckResult after = engine.check(RenderingGoldenTest.everything(), ns.path());
        assertThat(after.present()).isFalse();
        assertThat(after.inSync()).isFalse();
        assertThat(after.toString()).contains("no nodemesh rules are present");
        assertThat(snapshot(ns)).isEqualTo(foreignBefore);
        assertThat(engine.remove(ns.path())).isFalse();
        // Removed means applicable again.
        engine.apply(RenderingGoldenTest.defaults(), ns.path());
        assertThat(engine.check(RenderingGoldenTest.defaults(), ns.path()).inSync()).isTrue();
    }

    @Test
    void iptablesCheckFindsDeletedAndExtraRulesInBothFamilies() {
        Netns ns = net.namespace("drift");
        RedirectPlan plan = RenderingGoldenTest.everything();
        RuleEngine.iptables().apply(plan, ns.path());
        ns.execOk("iptables", "-t", "nat", "-D", "NODEMESH_OUTPUT", "-o", "lo", "-j", "RETURN");
        ns.execOk("iptables", "-t", "nat", "-A", "NODEMESH_PREROUTING", "-p", "tcp", "--dport", "2222", "-j", "RETURN");
        ns.execOk("ip6tables", "-t", "nat", "-D", "NODEMESH_OUTPUT", "-d", "fd00:10::/64", "-j", "RETURN");

        CheckResult r = RuleEngine.iptables().check(plan, ns.path());
        assertThat(r.inSync()).isFalse();
        assertThat(r.present()).isTrue();
        assertThat(r.missing()).containsExactlyInAnyOrder(
                "iptables NODEMESH_OUTPUT: -A NODEMESH_OUTPUT -o lo -j RETURN",
                "ip6tables NODEMESH_OUTPUT: -A NODEMESH_OUTPUT -d fd00:10::/64 -j RETURN");
        assertThat(r.unexpected()).containsExactly(
                "iptables NODEMESH_PREROUTING: -A NODEMESH_PREROUTING -p tcp -m tcp --dport 2222 -j RETURN");
        assertThat(r.toString()).contains("missing:", "unexpected:");
    }

    @Test
    void iptablesCheckFindsReorderedRulesAndAStrayJump() {
        Netns ns = net.namespace("order");
        RedirectPlan plan = RenderingGoldenTest.defaults();
        RuleEngine.iptables().apply(plan, ns.path());
        ns.execOk("iptables", "-t", "nat", "-D", "NODEMESH_OUTPUT", "-o", "lo", "-j", "RETURN");
        ns.execOk("iptables", "-t", "nat", "-I", "NODEMESH_OUTPUT", "1", "-o", "lo", "-j", "RETURN");
        ns.execOk("iptables", "-t", "nat", "-A", "OUTPUT", "-d", "10.77.5.5/32", "-j", "NODEMESH_OUTPUT");
        CheckResult r = RuleEngine.iptables().check(plan, ns.path());
        assertThat(r.reordered()).containsExactly("iptables NODEMESH_OUTPUT");
        assertThat(r.unexpected()).containsExactly("iptables OUTPUT: -A OUTPUT -d 10.77.5.5/32 -j NODEMESH_OUTPUT");
        // remove also takes the stray jump, or the chain could not be deleted.
        assertThat(RuleEngine.iptables().remove(ns.path())).isTrue();
        assertThat(ns.execOk("iptables-save", "-t", "nat").stdout()).doesNotContain("NODEMESH");
    }

    @Test
    void nftCheckFindsDeletedAndExtraRules() {
        Netns ns = net.namespace("nftdrift");
        RedirectPlan plan = RenderingGoldenTest.everything();
        RuleEngine.nft().apply(plan, ns.path());
        String handle = ns.execOk("nft", "-a", "list", "chain", "inet", "nodemesh", "output").stdout().lines()
                .filter(l -> l.contains("oifname \"lo\" return"))
                .map(l -> l.substring(l.lastIndexOf(' ') + 1)).findFirst().orElseThrow();
        ns.execOk("nft", "delete", "rule", "inet", "nodemesh", "output", "handle", handle);
        ns.execOk("nft", "add", "rule", "inet", "nodemesh", "prerouting", "tcp", "dport", "2222", "return");
        CheckResult r = RuleEngine.nft().check(plan, ns.path());
        assertThat(r.missing()).containsExactly("nft chain output: oifname \"lo\" return");
        assertThat(r.unexpected()).containsExactly("nft chain prerouting: tcp dport 2222 return");
        assertThat(r.inSync()).isFalse();
    }

    @Test
    void checkAgainstAnotherPlanShowsTheDifference() {
        Netns ns = net.namespace("other");
        RuleEngine.iptables().apply(RenderingGoldenTest.defaults(), ns.path());
        RedirectPlan other = RedirectPlan.builder().podLabel("demo/client").exemptPort(22).build();
        CheckResult r = RuleEngine.iptables().check(other, ns.path());
        assertThat(r.missing()).containsExactlyInAnyOrder(
                "iptables NODEMESH_OUTPUT: -A NODEMESH_OUTPUT -p tcp -m tcp --dport 22 -j RETURN",
                "ip6tables NODEMESH_OUTPUT: -A NODEMESH_OUTPUT -p tcp -m tcp --dport 22 -j RETURN");
        assertThat(r.unexpected()).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {"iptables", "nft"})
    void missingNamespaceIsNamed(String backend) {
        RuleEngine engine = RuleEngine.named(backend);
        Path missing = Path.of("/var/run/netns/" + NetnsExtension.PREFIX + "does-not-exist");
        RedirectPlan plan = RenderingGoldenTest.defaults();
        assertThatThrownBy(() -> engine.apply(plan, missing))
                .isInstanceOf(RulesException.class).hasMessageContaining(missing + " does not exist");
        assertThatThrownBy(() -> engine.check(plan, missing)).hasMessageContaining(missing.toString());
        assertThatThrownBy(() -> engine.remove(missing)).hasMessageContaining(missing.toString());
    }

    @ParameterizedTest
    @ValueSource(strings = {"iptables", "nft"})
    void aFailingToolReportsItsStderr(String backend) throws Exception {
        Path notANamespace = Files.createTempFile("nodemesh-not-a-netns", "");
        try {
            assertThatThrownBy(() -> RuleEngine.named(backend).apply(RenderingGoldenTest.defaults(), notANamespace))
                    .isInstanceOf(RulesException.class)
                    .hasMessageContaining(notANamespace.toString())
                    .hasMessageContaining("nsenter"); // nsenter's own complaint, passed through
        } finally {
            Files.delete(notANamespace);
        }
    }

    @Test
    void unknownBackendIsNamed() {
        assertThatThrownBy(() -> RuleEngine.named("ebtables")).hasMessageContaining("backend: 'ebtables'");
    }

    /** Someone else's rules: nat (both families), filter, and an nft table of their own. */
    private static void addForeignRules(Netns ns) {
        String v4 = "*nat\n:FOREIGN - [0:0]\n" + String.join("\n", FOREIGN_IPTABLES) + "\nCOMMIT\n"
                + "*filter\n-A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT\nCOMMIT\n";
        ns.execOk("sh", "-c", "printf '%s' \"$0\" | iptables-restore --noflush", v4);
        ns.execOk("ip6tables", "-t", "nat", "-A", "OUTPUT", "-d", "fd77::9/128", "-p", "tcp", "-j", "RETURN");
        ns.execOk("ip6tables", "-t", "filter", "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT");
        ns.execOk("nft", "add table inet foreign; add chain inet foreign c { type filter hook input priority 0; };"
                + " add rule inet foreign c tcp dport 2222 accept");
    }

    /**
     * Everything netfilter holds in the namespace, minus comments, counters, blank lines and empty
     * base chains: iptables-nft creates a table's built-in chains on first use and leaves them
     * (empty, policy accept, so without effect) when nodemesh's rules go again.
     */
    private static String snapshot(Netns ns) {
        StringBuilder out = new StringBuilder();
        for (String tool : List.of("iptables-save", "ip6tables-save")) {
            ns.execOk(tool).stdout().lines().filter(l -> !l.startsWith("#"))
                    .forEach(l -> out.append(l.replaceAll("\\[\\d+:\\d+]", "[0:0]")).append('\n'));
        }
        List<String> nft = ns.execOk("nft", "list", "ruleset").stdout().lines()
                .filter(l -> !l.isBlank()).toList();
        for (int i = 0; i < nft.size(); i++) {
            boolean emptyChain = i + 2 < nft.size() && nft.get(i).strip().startsWith("chain ")
                    && nft.get(i + 1).strip().startsWith("type ") && nft.get(i + 2).strip().equals("}");
            if (emptyChain) {
                i += 2;
            } else {
                out.append(nft.get(i)).append('\n');
            }
        }
        return out.toString();
    }
}
