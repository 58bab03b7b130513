package io.nodemesh.proxy.policy;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads a {@code NodemeshAuthorizationPolicy}'s spec from plain maps and lists (a custom resource's {@code spec}, or
 * an entry of the standalone file's {@code policies}), in the shape of Istio's {@code AuthorizationPolicy}. What can
 * only be enforced at L7 (HTTP methods, paths, hosts, request principals, request headers in {@code when}) is
 * refused with the field named, never skipped: Istio's ambient mode skips such rules silently, so a DENY meant for a
 * path denies nothing there (istio/istio#61126).
 */
public final class PolicyReader {

    private static final Set<String> SPEC_KEYS = Set.of("selector", "action", "rules");
    private static final Set<String> RULE_KEYS = Set.of("from", "to", "when");
    private static final Set<String> SOURCE_KEYS = Set.of("principals", "notPrincipals", "namespaces",
            "notNamespaces", "ipBlocks", "notIpBlocks");
    private static final Set<String> SOURCE_L7 = Set.of("requestPrincipals", "notRequestPrincipals",
            "remoteIpBlocks", "notRemoteIpBlocks");
    private static final Set<String> OPERATION_KEYS = Set.of("ports", "notPorts");
    private static final Set<String> OPERATION_L7 = Set.of("hosts", "notHosts", "methods", "notMethods", "paths",
            "notPaths");
    private static final Set<String> CONDITION_KEYS = Set.of("source.ip", "source.namespace", "source.principal",
            "destination.port");

    private PolicyReader() {
    }

    /**
     * Reads the policy {@code namespace/name} from {@code spec}.
     *
     * @param field how errors name the spec (e.g. {@code policies[2]} or {@code spec})
     * @throws PolicyException naming the field and the problem
     */
    public static AuthorizationPolicy read(String namespace, String name, Map<?, ?> spec, String field)
            throws PolicyException {
        keys(spec, field, SPEC_KEYS, Set.of("provider", "targetRef", "targetRefs"), "nodemesh enforces policies "
                + "itself, on the workloads its selector picks");
        Map<String, String> selector = Map.of();
        Object sel = spec.get("selector");
        if (sel != null) {
            Map<?, ?> s = map(sel, field + ".selector");
            keys(s, field + ".selector", Set.of("matchLabels"), Set.of(), "");
            selector = strings(s.get("matchLabels"), field + ".selector.matchLabels");
        }
        AuthorizationPolicy.Action action = AuthorizationPolicy.Action.ALLOW;
        if (spec.get("action") != null) {
            String a = String.valueOf(spec.get("action"));
            action = switch (a) {
                case "ALLOW" -> AuthorizationPolicy.Action.ALLOW;
                case "DENY" -> AuthorizationPolicy.Action.DENY;
                case "AUDIT", "CUSTOM" -> throw new PolicyException(field + ".action: " + a
                        + " is not supported by nodemesh (ALLOW or DENY)");
                default -> throw new PolicyException(field + ".action: '" + a + "' is not ALLOW or DENY");
            };
        }
        List<AuthorizationPolicy.Rule> rules = new ArrayList<>();
        List<?> ruleList = list(spec.get("rules"), field + ".rules");
        for (int i = 0; i < ruleList.size(); i++) {
            rules.add(rule(map(ruleList.get(i), field + ".rules[" + i + "]"), field + ".rules[" + i + "]"));
        }
        return new AuthorizationPolicy(namespace, name, selector, action, rules);
    }

    private static AuthorizationPolicy.Rule rule(Map<?, ?> m, String field) throws PolicyException {
        keys(m, field, RULE_KEYS, Set.of(), "");
        List<AuthorizationPolicy.Source> from = new ArrayList<>();
        List<?> fromList = list(m.get("from"), field + ".from");
        for (int i = 0; i < fromList.size(); i++) {
            String f = field + ".from[" + i + "]";
            Map<?, ?> item = map(fromList.get(i), f);
            keys(item, f, Set.of("source"), Set.of(), "");
            from.add(source(map(item.get("source"), f + ".source"), f + ".source"));
        }
        List<AuthorizationPolicy.Operation> to = new ArrayList<>();
        List<?> toList = list(m.get("to"), field + ".to");
        for (int i = 0; i < toList.size(); i++) {
            String f = field + ".to[" + i + "]";
            Map<?, ?> item = map(toList.get(i), f);
            keys(item, f, Set.of("operation"), Set.of(), "");
            to.add(operation(map(item.get("operation"), f + ".operation"), f + ".operation"));
        }
        List<AuthorizationPolicy.Condition> when = new ArrayList<>();
        List<?> whenList = list(m.get("when"), field + ".when");
        for (int i = 0; i < whenList.size(); i++) {
            String f = field + ".when[" + i + "]";
            Map<?, ?> item = map(whenList.get(i), f);
            keys(item, f, Set.of("key", "values", "notValues"), Set.of(), "");
            String key = String.valueOf(item.get("key"));
            if (!CONDITION_KEYS.contains(key)) {
                throw new PolicyException(f + ".key: '" + key + "' cannot be enforced at L4 (nodemesh checks "
                        + String.join(", ", CONDITION_KEYS.stream().sorted().toList()) + "); the policy is refused "
                        + "rather than enforced without it");
            }
            List<String> values = stringList(item.get("values"), f + ".values");
            List<String> notValues = stringList(item.get("notValues"), f + ".notValues");
            try {
                when.add(AuthorizationPolicy.Condition.of(key, values, notValues));
            } catch (IllegalArgumentException e) {
                throw new PolicyException(f + ": " + e.getMessage());
            }
        }
        return new AuthorizationPolicy.Rule(from, to, when);
    }

    private static AuthorizationPolicy.Source source(Map<?, ?> m, String field) throws PolicyException {
        keys(m, field, SOURCE_KEYS, SOURCE_L7, "it is an L7 attribute (request credentials or forwarded headers)");
        return new AuthorizationPolicy.Source(
                stringList(m.get("principals"), field + ".principals"),
                stringList(m.get("notPrincipals"), field + ".notPrincipals"),
                stringList(m.get("namespaces"), field + ".namespaces"),
                stringList(m.get("notNamespaces"), field + ".notNamespaces"),
                blocks(m.get("ipBlocks"), field + ".ipBlocks"),
                blocks(m.get("notIpBlocks"), field + ".notIpBlocks"));
    }

    private static AuthorizationPolicy.Operation operation(Map<?, ?> m, String field) throws PolicyException {
        keys(m, field, OPERATION_KEYS, OPERATION_L7, "it is an L7 attribute (HTTP)");
        return new AuthorizationPolicy.Operation(ports(m.get("ports"), field + ".ports"),
                ports(m.get("notPorts"), field + ".notPorts"));
    }

    private static List<Integer> ports(Object value, String field) throws PolicyException {
        List<Integer> out = new ArrayList<>();
        List<String> texts = stringList(value, field);
        for (int i = 0; i < texts.size(); i++) {
            String t = texts.get(i);
            int port;
            try {
                port = Integer.parseInt(t);
            } catch (NumberFormatException e) {
                port = -1;
            }
            if (port < 1 || port > 65535) {
                throw new PolicyException(field + "[" + i + "]: '" + t + "' is not a TCP port (1-65535)");
            }
            out.add(port);
        }
        return out;
    }

    private static List<Cidr> blocks(Object value, String field) throws PolicyException {
        List<Cidr> out = new ArrayList<>();
        List<String> texts = stringList(value, field);
        for (int i = 0; i < texts.size(); i++) {
            try {
                out.add(Cidr.parse(texts.get(i)));
            } catch (IllegalArgumentException e) {
                throw new PolicyException(field + "[" + i + "]: " + e.getMessage());
            }
        }
        return out;
    }

    private static void keys(Map<?, ?> m, String field, Set<String> allowed, Set<String> refused, String why)
            throws PolicyException {
        for (Object k : m.keySet()) {
            String key = String.valueOf(k);
            if (refused.contains(key)) {
                throw new PolicyException(field + "." + key + ": cannot be enforced at L4: " + why
                        + "; the policy is refused rather than enforced without it");
            }
            if (!allowed.contains(key)) {
                throw new PolicyException(field + "." + key + ": unknown field (expected one of "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
        }
    }

    private static Map<?, ?> map(Object value, String field) throws PolicyException {
        if (value instanceof Map<?, ?> m) {
            return m;
        }
        throw new PolicyException(field + ": expected a mapping, found " + describe(value));
    }

    private static List<?> list(Object value, String field) throws PolicyException {
        if (value == null) {
            return List.of();
        }
        if (value instanceof List<?> l) {
            return l;
        }
        throw new PolicyException(field + ": expected a list, found " + describe(value));
    }

    private static List<String> stringList(Object value, String field) throws PolicyException {
        List<String> out = new ArrayList<>();
        List<?> items = list(value, field);
        for (int i = 0; i < items.size(); i++) {
            Object v = items.get(i);
            if (v == null || v instanceof Map || v instanceof List) {
                throw new PolicyException(field + "[" + i + "]: expected a single value, found " + describe(v));
            }
            out.add(String.valueOf(v));
        }
        return out;
    }

    private static Map<String, String> strings(Object value, String field) throws PolicyException {
        if (value == null) {
            return Map.of();
        }
        Map<String, String> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map(value, field).entrySet()) {
            out.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
        }
        return out;
    }

    private static String describe(Object v) {
        return v == null ? "nothing" : v instanceof Map ? "a mapping" : v instanceof List ? "a list" : "'" + v + "'";
    }
}
