package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.rules.IpFamily;
import io.nodemesh.rules.IptablesRenderer;
import io.nodemesh.rules.NftRenderer;
import io.nodemesh.rules.RedirectPlan;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Cgroup;
import io.nodemesh.topology.Netns;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

class RulesCommandTest {

    /** One CLI invocation's exit status and output. */
    record Run(int exit, String out, String err) {
    }

    static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new RulesCommand());
        cli.setOut(new PrintWriter(out));
        cli.setErr(new PrintWriter(err));
        int exit = cli.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void renderPrintsEachFormat() {
        RedirectPlan plan = RedirectPlan.builder().podLabel("demo/client").exemptPort(22)
                .exemptCidr("10.96.0.0/12").exemptCidr("fd00::/8").build();
        String[] planArgs = {"--pod", "demo/client", "--exempt-port", "22", "--exempt-cidr", "10.96.0.0/12",
                "--exempt-cidr", "fd00::/8"};
        Run v4 = run(concat("render", planArgs));
        assertThat(v4.exit()).isZero();
        assertThat(v4.out()).isEqualTo(IptablesRenderer.render(plan, IpFamily.IPV4));
        Run v6 = run(concat("render", concat("--format", concat("ip6tables", planArgs))));
        assertThat(v6.out()).isEqualTo(IptablesRenderer.render(plan, IpFamily.IPV6)).contains("-d fd00::/8 -j RETURN");
        Run nft = run(concat("render", concat("--format", concat("nft", planArgs))));
        assertThat(nft.out()).isEqualTo(NftRenderer.render(plan)).startsWith("table inet nodemesh {");
    }

    @Test
    void renderHonoursEveryPlanOption() {
        Run r = run("render", "--mark", "0x100/0xf00", "--outbound-port", "16001", "--inbound-port", "16006",
                "--exempt-inbound-port", "8081", "--no-ipv6");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("--mark 0x100/0xf00", "--to-ports 16001", "--to-ports 16006", "--dport 8081 -j RETURN");
        Run nft = run("render", "--format", "nft", "--no-ipv6");
        assertThat(nft.out()).contains("meta nfproto ipv6 return");
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "--exempt-cidr=10.0.0.0/33|exemptCidr: '10.0.0.0/33'",
        "--exempt-port=70000|exemptPort: 70000",
        "--outbound-port=0|outboundPort: 0",
        "--mark=0|mark: 0x0",
        "--mark=zzz|mark: 'zzz'",
        "--exempt-port=abc|'abc'",
        "--format=pf|pf",
        "--no-ipv6 --exempt-cidr=fd00::/8|exemptCidr: 'fd00::/8' is IPv6",
        "--no-ipv6 --format=ip6tables|--no-ipv6",
        "--capture=dnat|capture: 'dnat' is not one of redirect, tproxy, ebpf",
        "--capture=tproxy --format=iptables|--format iptables has no --capture tproxy rules",
        "--capture=tproxy --tproxy-mark=0x539|tproxyMark: 0x539",
        "--capture=tproxy --tproxy-mark=x|tproxyMark: 'x'",
        "--capture=tproxy --route-table=255|routeTable: 255",
        "--capture=ebpf --format=iptables|--capture ebpf has no rules to render",
        "--capture=ebpf|--capture ebpf has no rules to render",
    })
    void badInputIsExitTwoWithTheFieldOnStderr(String spec) {
        String[] parts = spec.split("\\|");
        Run r = run(concat("render", parts[0].split(" ")));
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains(parts[1]);
        assertThat(r.out()).isEmpty();
    }

    @Test
    void missingSubcommandOrNetnsIsUsage() {
        assertThat(run().exit()).isEqualTo(2);
        Run r = run("apply");
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err()).contains("--netns");
    }

    @Test
    void helpWorks() {
        Run r = run("--help");
        assertThat(r.exit()).isZero();
        assertThat(r.out()).contains("render", "apply", "check", "remove");
    }

    @Nested
    class InANamespace {

        @RegisterExtension
        static final NetnsExtension net = new NetnsExtension();

        @ParameterizedTest
        @ValueSource(strings = {"iptables", "nft"})
        void applyCheckRemove(String backend) {
            Netns ns = net.namespace("cli");
            String path = ns.path().toString();
            Run apply = run("apply", "--netns", path, "--backend", backend, "--pod", "demo/client", "--exempt-port", "22");
            assertThat(apply.exit()).as(apply.err()).isZero();
            assertThat(apply.out()).contains("applied", path);

            Run inSync = run("check", "--netns", ns.name(), "--backend", backend, "--pod", "demo/client", "--exempt-port", "22");
            assertThat(inSync.exit()).as(inSync.out()).isZero();
            assertThat(inSync.out()).contains("in sync");

            Run differs = run("check", "--netns", path, "--backend", backend, "--pod", "demo/client");
            assertThat(differs.exit()).isEqualTo(1);
            assertThat(differs.out()).contains("unexpected:", "22");

            Run again = run("apply", "--netns", path, "--backend", backend);
            assertThat(again.exit()).isEqualTo(2);
            assertThat(again.err()).contains("already has nodemesh rules");

            Run remove = run("remove", "--netns", path, "--backend", backend);
            assertThat(remove.exit()).isZero();
            assertThat(remove.out()).contains("removed");
            assertThat(ns.execOk("iptables-save", "-t", "nat").stdout()).doesNotContain("NODEMESH");
            assertThat(ns.execOk("nft", "list", "tables").stdout()).doesNotContain("nodemesh");

            Run absent = run("check", "--netns", path, "--backend", backend);
            assertThat(absent.exit()).isEqualTo(1);
            assertThat(absent.out()).contains("no nodemesh rules are present");
            assertThat(run("remove", "--netns", path, "--backend", backend).out()).contains("no nodemesh rules");
        }

        @Test
        void applyCheckRemoveTproxy() {
            Netns ns = net.namespace("cli");
            String path = ns.path().toString();
            Run render = run("render", "--format", "nft", "--capture", "tproxy", "--route-table", "140");
            assertThat(render.out()).contains("type route hook output priority mangle;",
                    "meta l4proto tcp meta mark & 0x00000fff == 0x0000053a tproxy to :15001");
            Run apply = run("apply", "--netns", path, "--capture", "tproxy", "--route-table", "140", "--pod", "demo/c");
            assertThat(apply.exit()).as(apply.err()).isZero();
            assertThat(ns.execOk("ip", "rule").stdout()).contains("fwmark 0x53a/0xfff lookup 140");
            Run inSync = run("check", "--netns", path, "--capture", "tproxy", "--route-table", "140", "--pod", "demo/c");
            assertThat(inSync.exit()).as(inSync.out()).isZero();
            Run redirect = run("check", "--netns", path, "--pod", "demo/c");
            assertThat(redirect.exit()).isEqualTo(1);
            assertThat(redirect.out()).contains("unexpected: policy routing: ipv4 rule pref 32764 fwmark 0x53a/0xfff "
                    + "lookup 140", "unexpected: nft chain output: type route hook output priority mangle;");
            Run iptables = run("apply", "--netns", path, "--backend", "iptables", "--capture", "tproxy");
            assertThat(iptables.exit()).isEqualTo(2);
            assertThat(iptables.err()).contains("capture: tproxy needs the nft backend");
            assertThat(run("remove", "--netns", path).exit()).isZero();
            assertThat(ns.execOk("ip", "rule").stdout()).doesNotContain("lookup 140");
            assertThat(ns.execOk("ip", "route", "show", "table", "all").stdout()).doesNotContain("table 140");
        }

        @Test
        void applyCheckRemoveEbpf() {
            Netns ns = net.namespace("cli");
            Cgroup cgroup = net.cgroup("cli");
            String path = ns.path().toString();
            String cg = cgroup.path().toString();
            Run noCgroup = run("apply", "--netns", path, "--capture", "ebpf");
            assertThat(noCgroup.exit()).isEqualTo(2);
            assertThat(noCgroup.err()).contains("--capture ebpf needs --cgroup DIR");
            Run cgroupWithoutEbpf = run("apply", "--netns", path, "--cgroup", cg);
            assertThat(cgroupWithoutEbpf.exit()).isEqualTo(2);
            assertThat(cgroupWithoutEbpf.err()).contains("--cgroup is for --capture ebpf only");

            String bpffs = NetnsExtension.bpffs().toString();
            Run notBpffs = run("apply", "--netns", path, "--capture", "ebpf", "--cgroup", cg, "--bpffs", "/tmp");
            assertThat(notBpffs.exit()).isEqualTo(2);
            assertThat(notBpffs.err()).contains("/tmp is not one", "mount -t bpf bpf /tmp");
            assertThat(run("check", "--netns", path, "--capture", "ebpf", "--cgroup", cg, "--bpffs", bpffs)
                    .out()).as("nothing left by the refused apply").contains("no nodemesh rules are present");

            Run apply = run("apply", "--netns", path, "--capture", "ebpf", "--cgroup", cg, "--pod", "demo/c",
                    "--bpffs", bpffs);
            assertThat(apply.exit()).as(apply.err()).isZero();
            assertThat(apply.out()).contains("applied nodemesh rules (eBPF programs)");
            assertThat(ns.execOk("nft", "list", "ruleset").stdout()).as("nothing in netfilter").doesNotContain("table");
            Run inSync = run("check", "--netns", path, "--capture", "ebpf", "--cgroup", cg, "--pod", "demo/c",
                    "--bpffs", bpffs);
            assertThat(inSync.exit()).as(inSync.out()).isZero();
            Run other = run("check", "--netns", path, "--capture", "ebpf", "--cgroup", cg, "--pod", "demo/c",
                    "--exempt-port", "22", "--exempt-inbound-port", "8080", "--bpffs", bpffs);
            assertThat(other.exit()).isEqualTo(1);
            assertThat(other.out()).contains("missing:    cgroup " + cg + ": nodemesh_conn4 (the plan's)",
                    "unexpected: cgroup " + cg + ": nodemesh_conn4 (another plan's)",
                    "missing:    netns " + path + ": nodemesh_inbnd (the plan's)",
                    "unexpected: netns " + path + ": nodemesh_inbnd (another plan's)");
            Run remove = run("remove", "--netns", path, "--cgroup", cg, "--bpffs", bpffs);
            assertThat(remove.exit()).isZero();
            assertThat(remove.out()).contains("removed");
            Run gone = run("check", "--netns", path, "--capture", "ebpf", "--cgroup", cg, "--pod", "demo/c",
                    "--bpffs", bpffs);
            assertThat(gone.exit()).isEqualTo(1);
            assertThat(gone.out()).contains("no nodemesh rules are present");
        }

        @Test
        void missingNamespaceIsNamed() {
            String missing = "/var/run/netns/" + NetnsExtension.PREFIX + "nope";
            Run r = run("check", "--netns", missing);
            assertThat(r.exit()).isEqualTo(2);
            assertThat(r.err()).contains(missing, "does not exist");
        }
    }

    private static String[] concat(String first, String... rest) {
        List<String> all = new ArrayList<>();
        all.add(first);
        all.addAll(List.of(rest));
        return all.toArray(String[]::new);
    }
}
