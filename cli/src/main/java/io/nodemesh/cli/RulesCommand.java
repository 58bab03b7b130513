package io.nodemesh.cli;

import io.nodemesh.rules.CaptureMode;
import io.nodemesh.rules.CheckResult;
import io.nodemesh.rules.ConnectCapture;
import io.nodemesh.rules.IpFamily;
import io.nodemesh.rules.IptablesRenderer;
import io.nodemesh.rules.NftRenderer;
import io.nodemesh.rules.RedirectPlan;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.rules.RulesException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code nodemesh rules}: render the capture rules of one pod, or apply, check and remove them in
 * a network namespace. Exit status: 0 done / in sync, 1 check found differences, 2 bad input or
 * failure (message on stderr).
 */
@Command(name = "rules",
        mixinStandardHelpOptions = true,
        description = "Render, apply, check or remove one pod's capture rules.",
        subcommands = {
                RulesCommand.Render.class,
                RulesCommand.Apply.class,
                RulesCommand.Check.class,
                RulesCommand.Remove.class,
        })
public final class RulesCommand implements Runnable {

    /** Exit status when the command could not do its job (bad input, missing namespace, failing tool). */
    static final int TROUBLE = 2;
    /** Exit status of {@code check} when live rules differ from the plan. */
    static final int DIFFERENT = 1;

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing subcommand: render, apply, check or remove");
    }

    /** The plan options every subcommand shares. */
    static final class PlanOptions {
        @Option(names = "--pod", paramLabel = "NS/NAME", description = "Pod the rules are for (shown in rule comments).")
        String pod;

        @Option(names = "--mark", paramLabel = "VALUE[/MASK]",
                description = "Packet mark of the proxy's own sockets, exempt from capture (default 0x539/0xfff).")
        String mark;

        @Option(names = "--outbound-port", paramLabel = "PORT", description = "Outbound capture port (default 15001).")
        Integer outboundPort;

        @Option(names = "--inbound-port", paramLabel = "PORT", description = "Inbound capture port (default 15006).")
        Integer inboundPort;

        @Option(names = "--exempt-port", paramLabel = "PORT", description = "Outbound destination port never captured (repeatable).")
        List<Integer> exemptPorts = List.of();

        @Option(names = "--exempt-inbound-port", paramLabel = "PORT",
                description = "Inbound destination port never captured (repeatable; the proxy ports always are).")
        List<Integer> exemptInboundPorts = List.of();

        @Option(names = "--exempt-cidr", paramLabel = "CIDR", description = "Outbound destination network never captured, IPv4 or IPv6 (repeatable).")
        List<String> exemptCidrs = List.of();

        @Option(names = "--no-ipv6", description = "Capture IPv4 only.")
        boolean noIpv6;

        @Option(names = "--no-ipv4", description = "Capture IPv6 only.")
        boolean noIpv4;

        @Option(names = "--capture", paramLabel = "redirect|tproxy|ebpf",
                description = "How captured TCP reaches the proxy: nat redirect (the default), tproxy (nft only: "
                        + "nothing translated or tracked, a policy route per family) or ebpf (outbound sent to the "
                        + "proxy at connect() by eBPF programs on the pod's cgroup, --cgroup; inbound by an sk_lookup "
                        + "program on the namespace, pinned under --bpffs; no netfilter rules).")
        String capture;

        @Option(names = "--tproxy-mark", paramLabel = "VALUE",
                description = "tproxy: the mark outbound packets get, under the mask (default 0x53a).")
        String tproxyMark;

        @Option(names = "--route-table", paramLabel = "TABLE", description = "tproxy: the policy route's table (default 133).")
        Integer routeTable;

        RedirectPlan plan(CommandSpec spec) {
            RedirectPlan.Builder b = RedirectPlan.builder().podLabel(pod).ipv4(!noIpv4).ipv6(!noIpv6);
            if (mark != null) {
                b.mark(mark);
            }
            if (outboundPort != null) {
                b.outboundPort(outboundPort);
            }
            if (inboundPort != null) {
                b.inboundPort(inboundPort);
            }
            exemptPorts.forEach(b::exemptPort);
            exemptInboundPorts.forEach(b::exemptInboundPort);
            exemptCidrs.forEach(b::exemptCidr);
            try {
                if (capture != null) {
                    b.capture(CaptureMode.parse(capture));
                }
                if (tproxyMark != null) {
                    b.tproxyMark(tproxyMark);
                }
                if (routeTable != null) {
                    b.routeTable(routeTable);
                }
                return b.build();
            } catch (RulesException e) {
                throw new ParameterException(spec.commandLine(), "Invalid plan: " + e.getMessage());
            }
        }
    }

    /** Options naming the namespace and backend to act on. */
    static final class TargetOptions {
        @Option(names = "--netns", required = true, paramLabel = "PATH",
                description = "Network namespace: a path (/var/run/netns/NAME, /proc/PID/ns/net) or a name under /var/run/netns.")
        String netns;

        @Option(names = "--backend", paramLabel = "nft|iptables", defaultValue = "nft",
                description = "Which backend: nft (the default, as the proxy's) or iptables.")
        Backend backend;

        @Option(names = "--cgroup", paramLabel = "DIR",
                description = "The pod's cgroup (v2) directory: where --capture ebpf attaches its programs "
                        + "(apply, check, remove).")
        Path cgroup;

        @Option(names = "--bpffs", paramLabel = "DIR", defaultValue = "/sys/fs/bpf",
                description = "A bpf filesystem, where --capture ebpf pins the pod's inbound program (apply, check, "
                        + "remove; default: ${DEFAULT-VALUE}).")
        Path bpffs;

        Path path() {
            return netns.contains("/") ? Path.of(netns) : Path.of("/var/run/netns", netns);
        }

        RuleEngine engine() {
            return RuleEngine.named(backend.name());
        }

        /** {@code --capture ebpf} needs {@code --cgroup}, and only it takes one. */
        void requireCgroup(CommandSpec spec, RedirectPlan plan) {
            if (plan.capture() == CaptureMode.EBPF && cgroup == null) {
                throw new ParameterException(spec.commandLine(), "--capture ebpf needs --cgroup DIR (the pod's cgroup)");
            }
            if (plan.capture() != CaptureMode.EBPF && cgroup != null) {
                throw new ParameterException(spec.commandLine(), "--cgroup is for --capture ebpf only");
            }
        }
    }

    /** Rule backends. */
    enum Backend { iptables, nft }

    /** Rendering formats. */
    enum Format { iptables, ip6tables, nft }

    /** Shared run-and-report: a RulesException becomes a message on stderr and exit status 2. */
    abstract static class Action implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Override
        public final Integer call() {
            try {
                return act(spec.commandLine().getOut());
            } catch (RulesException e) {
                PrintWriter err = spec.commandLine().getErr();
                err.println("nodemesh rules " + spec.name() + ": " + e.getMessage());
                err.flush();
                return TROUBLE;
            }
        }

        abstract int act(PrintWriter out);
    }

    /** {@code rules render}: print the rules for a plan without touching any namespace. */
    @Command(name = "render", mixinStandardHelpOptions = true,
            description = "Print the rules for the plan: iptables-restore or ip6tables-restore input, or nft -f input.")
    static final class Render extends Action {
        @Mixin
        PlanOptions plan;

        @Option(names = "--format", paramLabel = "iptables|ip6tables|nft", defaultValue = "iptables",
                description = "Output format (default ${DEFAULT-VALUE}).")
        Format format;

        @Override
        int act(PrintWriter out) {
            RedirectPlan p = plan.plan(spec);
            if (p.capture() == CaptureMode.EBPF) {
                throw new ParameterException(spec.commandLine(), "--capture ebpf has no rules to render: its capture "
                        + "is eBPF programs on the pod's cgroup and network namespace (rules apply attaches them)");
            }
            String text = switch (format) {
                case nft -> NftRenderer.render(p);
                case iptables -> iptables(p, IpFamily.IPV4, "--no-ipv4");
                case ip6tables -> iptables(p, IpFamily.IPV6, "--no-ipv6");
            };
            out.print(text);
            out.flush();
            return 0;
        }

        private String iptables(RedirectPlan p, IpFamily family, String disablingFlag) {
            if (p.capture() != CaptureMode.REDIRECT) {
                throw new ParameterException(spec.commandLine(), "--format " + format + " has no --capture "
                        + p.capture().configName() + " rules (the iptables backend writes nat REDIRECT only): "
                        + "use --format nft");
            }
            if (!p.covers(family)) {
                throw new ParameterException(spec.commandLine(),
                        "--format " + format + " renders a family that " + disablingFlag + " turned off");
            }
            return IptablesRenderer.render(p, family);
        }
    }

    /** {@code rules apply}: install the plan in a namespace, refusing if nodemesh rules are already there. */
    @Command(name = "apply", mixinStandardHelpOptions = true,
            description = "Install the rules in a network namespace (atomically; refused if nodemesh rules are already there).")
    static final class Apply extends Action {
        @Mixin
        PlanOptions plan;
        @Mixin
        TargetOptions target;

        @Override
        int act(PrintWriter out) {
            RedirectPlan p = plan.plan(spec);
            target.requireCgroup(spec, p);
            target.engine().apply(p, target.path());
            if (p.capture() == CaptureMode.EBPF) {
                try (ConnectCapture programs = ConnectCapture.open(target.bpffs)) {
                    try {
                        programs.install(p, target.cgroup);
                        programs.inbound().install(p, target.path());
                    } catch (RulesException e) {
                        programs.remove(target.cgroup); // all or nothing, as for the rules alone
                        programs.inbound().remove(target.path());
                        throw e;
                    }
                }
            }
            out.printf("applied nodemesh rules (%s) in %s: outbound TCP -> :%d, inbound TCP -> :%d%n",
                    p.capture() == CaptureMode.EBPF ? "eBPF programs" : target.backend, target.path(),
                    p.outboundPort(), p.inboundPort());
            out.flush();
            return 0;
        }
    }

    /** {@code rules check}: compare the live rules with the plan; exit 1 and list the differences if they differ. */
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Compare the live rules with the plan: exit 0 in sync, 1 with the differences listed.")
    static final class Check extends Action {
        @Mixin
        PlanOptions plan;
        @Mixin
        TargetOptions target;

        @Override
        int act(PrintWriter out) {
            RedirectPlan p = plan.plan(spec);
            target.requireCgroup(spec, p);
            CheckResult result = target.engine().check(p, target.path());
            if (target.cgroup != null) {
                try (ConnectCapture programs = ConnectCapture.open(target.bpffs)) {
                    result = result.and(programs.check(p, target.cgroup))
                            .and(programs.inbound().check(p, target.path()));
                }
            }
            out.println(result);
            out.flush();
            return result.inSync() ? 0 : DIFFERENT;
        }
    }

    /** {@code rules remove}: delete nodemesh's chains and jumps (only those) from a namespace. */
    @Command(name = "remove", mixinStandardHelpOptions = true,
            description = "Remove nodemesh's chains and the jumps into them (nothing else) from a network namespace.")
    static final class Remove extends Action {
        @Mixin
        TargetOptions target;

        @Override
        int act(PrintWriter out) {
            boolean removed = target.engine().remove(target.path());
            try (ConnectCapture programs = ConnectCapture.open(target.bpffs)) {
                if (target.cgroup != null) {
                    removed |= programs.remove(target.cgroup);
                }
                removed |= programs.inbound().remove(target.path());
            }
            out.println(removed
                    ? "removed nodemesh rules (" + target.backend + ") from " + target.path()
                    : "no nodemesh rules (" + target.backend + ") in " + target.path());
            out.flush();
            return 0;
        }
    }
}
