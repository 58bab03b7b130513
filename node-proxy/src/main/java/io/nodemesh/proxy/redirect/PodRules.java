package io.nodemesh.proxy.redirect;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.PodSpec;

/** Installs and removes the redirect rules that send a pod's traffic to its capture listeners. */
public interface PodRules {

    /** Rules are somebody else's job ({@code rules: none}). */
    PodRules NONE = new PodRules() {
        @Override
        public void install(PodSpec pod, ProxySettings settings) {
        }

        @Override
        public void remove(PodSpec pod, ProxySettings settings) {
        }
    };

    /**
     * Makes the pod's live rules match its plan: rules already in sync (left by an earlier proxy)
     * are kept, anything else of nodemesh's is replaced.
     *
     * @throws RuntimeException with a message naming the pod's namespace and the failing tool
     */
    void install(PodSpec pod, ProxySettings settings);

    /** Removes nodemesh's rules from the pod (nothing else); no error if there are none. */
    void remove(PodSpec pod, ProxySettings settings);

    /**
     * Runs the installer's code once, changing nothing, before the first pods are captured (see
     * {@link io.nodemesh.rules.RuleEngine#prepare}); a failure here is left for the captures to report.
     */
    default void prepare() {
    }
}
