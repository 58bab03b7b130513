package io.nodemesh.proxy.redirect;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.rules.CheckResult;
import io.nodemesh.rules.RedirectPlan;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.rules.RulesException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** A pod's redirect rules through the redirect-rules module (iptables or nft, inside the pod's namespace). */
public final class RedirectRules implements PodRules {

    private static final Logger log = LoggerFactory.getLogger(RedirectRules.class);

    private final RuleEngine engine;
    private final RuleEngine other;

    private RedirectRules(RuleEngine engine, RuleEngine other) {
        this.engine = engine;
        this.other = other;
    }

    /** The installer for {@code backend}; {@link PodRules#NONE} for {@code none}. */
    public static PodRules forBackend(RulesBackend backend) {
        return switch (backend) {
            case IPTABLES -> new RedirectRules(RuleEngine.iptables(), RuleEngine.nft());
            case NFT -> new RedirectRules(RuleEngine.nft(), RuleEngine.iptables());
            case NONE -> PodRules.NONE;
        };
    }

    /** The capture plan for {@code pod} under {@code settings}. */
    public static RedirectPlan plan(PodSpec pod, ProxySettings settings) {
        RedirectPlan.Builder b = RedirectPlan.builder()
                .podLabel(pod.key())
                .outboundPort(settings.outboundPort())
                .inboundPort(settings.inboundPort())
                .mark(settings.mark());
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
        RedirectPlan plan = plan(pod, settings);
        CheckResult live = engine.check(plan, pod.netns());
        if (live.inSync()) {
            log.info("pod {}: {} redirect rules already in place and in sync, kept", pod.key(), engine.name());
            return;
        }
        if (live.present()) {
            log.info("pod {}: replacing out-of-date redirect rules: {}", pod.key(), live);
        }
        // Rules of either backend left by an earlier proxy would make apply refuse; they are ours to replace.
        engine.remove(pod.netns());
        try {
            other.remove(pod.netns());
        } catch (RulesException e) {
            log.debug("pod {}: cannot look for {} rules: {}", pod.key(), other.name(), e.getMessage());
        }
        engine.apply(plan, pod.netns());
        log.info("pod {}: {} redirect rules applied in {}", pod.key(), engine.name(), pod.netns());
    }

    @Override
    public void remove(PodSpec pod, ProxySettings settings) {
        if (engine.remove(pod.netns())) {
            log.info("pod {}: {} redirect rules removed from {}", pod.key(), engine.name(), pod.netns());
        }
    }
}
