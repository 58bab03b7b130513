package io.nodemesh.discovery.kubernetes;

import io.nodemesh.discovery.kubernetes.ApiObjects.Meta;
import io.nodemesh.discovery.kubernetes.ApiObjects.Policy;
import io.nodemesh.proxy.policy.AuthorizationPolicy;
import io.nodemesh.proxy.policy.PolicyException;
import io.nodemesh.proxy.policy.PolicyReader;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The {@code NodemeshAuthorizationPolicy} custom resources ({@code nodemesh.io/v1alpha1}), read into the snapshot's
 * policies by {@link PolicyReader}, the reader of the standalone file's {@code policies} too.
 *
 * <p>The API server cannot refuse a policy the proxy cannot enforce (an L7-only rule, a typo the schema let through),
 * and leaving it out would open what it was meant to close. So such a policy is enforced as closed as its action
 * allows: an {@code ALLOW} policy admits nothing (it still selects its workloads, so only other ALLOW policies can
 * admit connections to them), a {@code DENY} policy denies every connection to its workloads. Each is reported once,
 * with the field and the problem, and shown in the source's status.
 */
public final class PolicyResources {

    /** The custom resource's API group. */
    public static final String GROUP = "nodemesh.io";
    /** The custom resource's version. */
    public static final String VERSION = "v1alpha1";
    /** The custom resource's kind (it is namespaced). */
    public static final String KIND = "NodemeshAuthorizationPolicy";
    /** The custom resource's plural name, as in its paths and its CRD's name ({@code PLURAL.GROUP}). */
    public static final String PLURAL = "nodemeshauthorizationpolicies";
    /** Where the policies of every namespace are listed and watched. */
    public static final String PATH = "/apis/" + GROUP + "/" + VERSION + "/" + PLURAL;

    private PolicyResources() {
    }

    /**
     * The policies of {@code objects}, ordered by namespace and name; a policy that cannot be enforced as written is
     * replaced by its closed form and described in {@code problems}.
     */
    static List<AuthorizationPolicy> read(Collection<Policy> objects, List<String> problems) {
        List<Policy> sorted = new ArrayList<>(objects);
        sorted.sort(Comparator.comparing((Policy r) -> r.meta().namespace()).thenComparing(r -> r.meta().name()));
        List<AuthorizationPolicy> out = new ArrayList<>();
        for (Policy r : sorted) {
            Meta meta = r.meta();
            String key = meta.namespace() + "/" + meta.name();
            Object spec = r.spec();
            Map<?, ?> fields = spec instanceof Map<?, ?> m ? m : Map.of();
            try {
                if (!(spec instanceof Map<?, ?>)) {
                    throw new PolicyException("spec: expected a mapping");
                }
                out.add(PolicyReader.read(meta.namespace(), meta.name(), fields, "spec"));
            } catch (PolicyException | RuntimeException e) {
                AuthorizationPolicy closed = closed(meta.namespace(), meta.name(), fields);
                problems.add("NodemeshAuthorizationPolicy " + key + ": " + e.getMessage() + "; enforced closed: "
                        + (closed.action() == AuthorizationPolicy.Action.DENY
                                ? "it denies every connection to the workloads it selects"
                                : "it admits no connection to the workloads it selects"));
                out.add(closed);
            }
        }
        return out;
    }

    /**
     * The closed form of an unreadable policy: its action ({@code DENY} only when it says so plainly; ALLOW is the
     * default, as in Istio) and its selector's labels if they are plain strings (else every workload of the namespace),
     * with a DENY rule that matches everything or an ALLOW without rules, which matches nothing.
     */
    private static AuthorizationPolicy closed(String namespace, String name, Map<?, ?> spec) {
        boolean deny = "DENY".equals(spec.get("action"));
        Map<String, String> selector = new LinkedHashMap<>();
        if (spec.get("selector") instanceof Map<?, ?> s && s.get("matchLabels") instanceof Map<?, ?> labels) {
            for (Map.Entry<?, ?> e : labels.entrySet()) {
                if (e.getKey() instanceof String k && e.getValue() instanceof String v) {
                    selector.put(k, v);
                }
            }
        }
        return new AuthorizationPolicy(namespace, name, selector,
                deny ? AuthorizationPolicy.Action.DENY : AuthorizationPolicy.Action.ALLOW,
                deny ? List.of(new AuthorizationPolicy.Rule(List.of(), List.of(), List.of())) : List.of());
    }
}
