package io.nodemesh.proxy.capture;

import io.nodemesh.proxy.config.PodSpec;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;

/** Redirect rules through the redirect-rules module. TEMPORARY until that module lands on main. */
public final class RedirectRules {

    private RedirectRules() {
    }

    public static PodRules forBackend(RulesBackend backend) {
        if (backend == RulesBackend.NONE) {
            return PodRules.NONE;
        }
        return new PodRules() {
            @Override
            public void install(PodSpec pod, ProxySettings settings) {
                throw new UnsupportedOperationException("rules: " + backend.configName() + " needs the redirect-rules module");
            }

            @Override
            public void remove(PodSpec pod, ProxySettings settings) {
            }
        };
    }
}
