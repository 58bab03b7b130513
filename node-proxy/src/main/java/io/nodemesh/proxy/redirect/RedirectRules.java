package io.nodemesh.proxy.redirect;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.rules.CaptureMode;
import io.nodemesh.rules.ConnectCapture;
import io.nodemesh.rules.RedirectPlan;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.rules.RulesException;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A pod's redirect rules through the redirect-rules module (iptables or nft, inside the pod's namespace). */
public final class RedirectRules implements PodRules {

    private static final Logger log = LoggerFactory.getLogger(RedirectRules.class);

    private final RuleEngine engine;
    private final ConnectCapture connect;

    private RedirectRules(RuleEngine engine, ConnectCapture connect) {
        this.engine = engine;
        this.connect = connect;
    }

    /**
     * The installer for {@code backend}; {@link PodRules#NONE} for {@code none}. {@code connect} is the proxy's eBPF
     * capture ({@code capture: ebpf}: its programs go on pods' cgroups; the proxy's listeners read its map).
     */
    public static PodRules forBackend(RulesBackend backend, ConnectCapture connect) {
        return switch (backend) {
            case IPTABLES -> new RedirectRules(RuleEngine.iptables(), connect);
            case NFT -> new RedirectRules(RuleEngine.nft(), connect);
            case NONE -> PodRules.NONE;
        };
    }

    /** The capture plan for {@code pod} under {@code settings}. */
    public static RedirectPlan plan(PodSpec pod, ProxySettings settings) {
        RedirectPlan.Builder b = RedirectPlan.builder()
                .podLabel(pod.key())
                .outboundPort(settings.outboundPort())
                .inboundPort(settings.inboundPort())
                .mark(settings.mark())
                .capture(settings.capture());
        if ((settings.mark() & ~RedirectPlan.DEFAULT_MARK_MASK) != 0) {
            b.markMask(-1); // a mark outside the default mask is compared whole
        }
        pod.exemptPorts().forEach(b::exemptPort);
        pod.exemptInboundPorts().forEach(b::exemptInboundPort);
        pod.exemptCidrs().forEach(b::exemptCidr);
        return b.build();
    }

    @Override
    public void install(PodSpec pod, ProxySettings settings) {
        long start = System.nanoTime();
        RedirectPlan plan = plan(pod, settings);
        if (plan.capture() == CaptureMode.EBPF && pod.cgroup() == null) {
            throw new RulesException("capture ebpf attaches its programs to the pod's cgroup, and the cgroup of pod "
                    + pod.key() + " is not known ('cgroup' in a standalone config's pod entry; in Kubernetes mode "
                    + "looked for by the pod's uid under --cgroup-root)");
        }
        RuleEngine.Installed done;
        if (plan.capture() == CaptureMode.EBPF) {
            RuleEngine.Installed programs = connect.install(plan, pod.cgroup());
            done = connect.inbound().install(plan, pod.netns());
            log.info("pod {}: eBPF capture programs on cgroup {} {}", pod.key(), pod.cgroup(),
                    programs == RuleEngine.Installed.KEPT ? "already in place, kept" : programs.name().toLowerCase(Locale.ROOT));
            // An earlier capture's rules out, now the programs are in: not looked for when the inbound program was
            // kept, which only an ebpf capture leaves (the others detach it), and whose install took them out.
            if (done != RuleEngine.Installed.KEPT
                    && engine.install(plan, pod.netns()) != RuleEngine.Installed.KEPT) {
                log.info("pod {}: the {} redirect rules of an earlier capture removed from {}", pod.key(),
                        engine.name(), pod.netns());
            }
        } else {
            done = engine.install(plan, pod.netns());
            if (pod.cgroup() != null && connect.remove(pod.cgroup())) {
                log.info("pod {}: eBPF capture programs detached from cgroup {} (capture {})", pod.key(),
                        pod.cgroup(), plan.capture().configName());
            }
            if (connect.inbound().remove(pod.netns())) {
                log.info("pod {}: eBPF inbound program detached from {} (capture {})", pod.key(), pod.netns(),
                        plan.capture().configName());
            }
        }
        long micros = (System.nanoTime() - start) / 1000;
        String what = plan.capture() == CaptureMode.EBPF ? "eBPF inbound" : engine.name();
        switch (done) {
            case KEPT -> log.info("pod {}: {} redirect rules already in place and in sync, kept ({} µs)", pod.key(),
                    what, micros);
            case APPLIED -> log.info("pod {}: {} redirect rules applied in {} ({} µs)", pod.key(), what,
                    pod.netns(), micros);
            case REPLACED -> log.info("pod {}: nodemesh redirect rules in {} replaced by the plan's {} rules ({} µs)",
                    pod.key(), pod.netns(), what, micros);
        }
    }

    @Override
    public void prepare() {
        long start = System.nanoTime();
        try {
            engine.prepare();
            log.debug("{} rules prepared in {} µs", engine.name(), (System.nanoTime() - start) / 1000);
        } catch (RuntimeException e) {
            log.debug("{} rules could not be prepared (the captures will say why, if they fail): {}", engine.name(),
                    e.toString());
        }
    }

    @Override
    public void remove(PodSpec pod, ProxySettings settings) {
        if (pod.cgroup() != null && connect.remove(pod.cgroup())) { // before the rules, as they went in after
            log.info("pod {}: eBPF capture programs detached from cgroup {}", pod.key(), pod.cgroup());
        }
        if (connect.inbound().remove(pod.netns())) {
            log.info("pod {}: eBPF inbound program detached from {}", pod.key(), pod.netns());
        }
        if (engine.remove(pod.netns())) {
            log.info("pod {}: {} redirect rules removed from {}", pod.key(), engine.name(), pod.netns());
        }
    }
}
