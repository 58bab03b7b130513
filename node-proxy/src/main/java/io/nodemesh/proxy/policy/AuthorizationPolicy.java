package io.nodemesh.proxy.policy;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One {@code NodemeshAuthorizationPolicy}: Istio's L4 authorization policy, read from the standalone file's
 * {@code policies} section or from the cluster's custom resources ({@link PolicyReader} reads both). It selects
 * workloads of its namespace by labels (no selector: all of them) and allows or denies the connections its rules
 * match.
 *
 * @param namespace the policy's namespace: it applies to workloads there
 * @param name its name
 * @param selector labels a workload must all have ({@code spec.selector.matchLabels}); empty selects every workload
 * @param action {@code ALLOW} or {@code DENY}
 * @param rules the rules; a connection matches the policy when it matches any rule (none: matches nothing)
 */
public record AuthorizationPolicy(String namespace, String name, Map<String, String> selector, Action action,
        List<Rule> rules) {

    public AuthorizationPolicy {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(action, "action");
        selector = Map.copyOf(selector);
        rules = List.copyOf(rules);
    }

    /** What a matching policy does. */
    public enum Action { ALLOW, DENY }

    /** {@code namespace/name}. */
    public String key() {
        return namespace + "/" + name;
    }

    /** Whether the policy applies to a workload of {@code workloadNamespace} with {@code labels}. */
    public boolean selects(String workloadNamespace, Map<String, String> labels) {
        return namespace.equals(workloadNamespace) && labels.entrySet().containsAll(selector.entrySet());
    }

    /** Whether {@code peer} matches some rule. */
    public boolean matches(Peer peer) {
        for (Rule rule : rules) {
            if (rule.matches(peer)) {
                return true;
            }
        }
        return false;
    }

    /**
     * One rule: it matches when some {@code from} source matches (or there is none), some {@code to} operation
     * matches (or there is none) and every {@code when} condition holds.
     */
    public record Rule(List<Source> from, List<Operation> to, List<Condition> when) {
        public Rule {
            from = List.copyOf(from);
            to = List.copyOf(to);
            when = List.copyOf(when);
        }

        boolean matches(Peer peer) {
            if (!from.isEmpty() && from.stream().noneMatch(s -> s.matches(peer))) {
                return false;
            }
            if (!to.isEmpty() && to.stream().noneMatch(o -> o.matches(peer))) {
                return false;
            }
            return when.stream().allMatch(c -> c.matches(peer));
        }
    }

    /**
     * Who a connection comes from. Each non-empty field must match; principals and namespaces match only an
     * authenticated peer (mutual TLS), never plaintext.
     */
    public record Source(List<String> principals, List<String> notPrincipals, List<String> namespaces,
            List<String> notNamespaces, List<Cidr> ipBlocks, List<Cidr> notIpBlocks) {
        public Source {
            principals = List.copyOf(principals);
            notPrincipals = List.copyOf(notPrincipals);
            namespaces = List.copyOf(namespaces);
            notNamespaces = List.copyOf(notNamespaces);
            ipBlocks = List.copyOf(ipBlocks);
            notIpBlocks = List.copyOf(notIpBlocks);
        }

        boolean matches(Peer peer) {
            String principal = peer.principal();
            String namespace = peer.namespace();
            return (principals.isEmpty() || principal != null && Patterns.anyMatch(principals, principal))
                    && (notPrincipals.isEmpty() || principal == null || !Patterns.anyMatch(notPrincipals, principal))
                    && (namespaces.isEmpty() || namespace != null && Patterns.anyMatch(namespaces, namespace))
                    && (notNamespaces.isEmpty() || namespace == null || !Patterns.anyMatch(notNamespaces, namespace))
                    && (ipBlocks.isEmpty() || Cidr.anyContains(ipBlocks, peer.sourceIp()))
                    && (notIpBlocks.isEmpty() || !Cidr.anyContains(notIpBlocks, peer.sourceIp()));
        }
    }

    /** What a connection goes to: at L4, the destination port. */
    public record Operation(List<Integer> ports, List<Integer> notPorts) {
        public Operation {
            ports = List.copyOf(ports);
            notPorts = List.copyOf(notPorts);
        }

        boolean matches(Peer peer) {
            return (ports.isEmpty() || ports.contains(peer.destinationPort()))
                    && (notPorts.isEmpty() || !notPorts.contains(peer.destinationPort()));
        }
    }

    /**
     * A {@code when} condition on an L4 attribute: {@code source.ip}, {@code source.namespace}, {@code
     * source.principal} or {@code destination.port}. Build it with {@link #of}, which parses the blocks of a
     * {@code source.ip} condition once.
     */
    public record Condition(String key, List<String> values, List<String> notValues, List<Cidr> blocks,
            List<Cidr> notBlocks) {
        public Condition {
            Objects.requireNonNull(key, "key");
            values = List.copyOf(values);
            notValues = List.copyOf(notValues);
            blocks = List.copyOf(blocks);
            notBlocks = List.copyOf(notBlocks);
        }

        /** @throws IllegalArgumentException when a {@code source.ip} value is not an address block */
        public static Condition of(String key, List<String> values, List<String> notValues) {
            boolean ip = key.equals("source.ip");
            return new Condition(key, values, notValues, ip ? Cidr.parseAll(values) : List.of(),
                    ip ? Cidr.parseAll(notValues) : List.of());
        }

        boolean matches(Peer peer) {
            return switch (key) {
                case "source.ip" -> (blocks.isEmpty() || Cidr.anyContains(blocks, peer.sourceIp()))
                        && (notBlocks.isEmpty() || !Cidr.anyContains(notBlocks, peer.sourceIp()));
                case "destination.port" -> test(Integer.toString(peer.destinationPort()));
                case "source.namespace" -> test(peer.namespace());
                case "source.principal" -> test(peer.principal());
                default -> false; // PolicyReader admits no other key
            };
        }

        private boolean test(String value) {
            if (value == null) {
                return values.isEmpty();
            }
            return (values.isEmpty() || Patterns.anyMatch(values, value))
                    && (notValues.isEmpty() || !Patterns.anyMatch(notValues, value));
        }
    }
}
