package io.nodemesh.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the reader refuses, with the field named; an L7 attribute is refused, never skipped. */
class PolicyReaderTest {

    private static void refused(Map<String, Object> spec, String message) {
        assertThatThrownBy(() -> PolicyReader.read("ns", "p", spec, "spec")).as("%s", spec)
                .isInstanceOf(PolicyException.class).hasMessageStartingWith(message);
    }

    @Test
    void l7AttributesAreRefusedLoudly() {
        refused(Map.of("rules", List.of(Map.of("to", List.of(Map.of("operation", Map.of("methods", List.of("GET"))))))),
                "spec.rules[0].to[0].operation.methods: cannot be enforced at L4: it is an L7 attribute (HTTP)");
        refused(Map.of("rules", List.of(Map.of("to", List.of(Map.of("operation", Map.of("paths", List.of("/a"))))))),
                "spec.rules[0].to[0].operation.paths: cannot be enforced at L4");
        refused(Map.of("rules", List.of(Map.of("from", List.of(Map.of("source",
                Map.of("requestPrincipals", List.of("*"))))))), "spec.rules[0].from[0].source.requestPrincipals: cannot");
        refused(Map.of("rules", List.of(Map.of("when", List.of(Map.of("key", "request.headers[x]",
                "values", List.of("1")))))), "spec.rules[0].when[0].key: 'request.headers[x]' cannot be enforced at L4");
        refused(Map.of("action", "CUSTOM"), "spec.action: CUSTOM is not supported");
        refused(Map.of("targetRefs", List.of()), "spec.targetRefs: cannot be enforced at L4");
    }

    @Test
    void mistakesAreNamed() {
        refused(Map.of("action", "MAYBE"), "spec.action: 'MAYBE' is not ALLOW or DENY");
        refused(Map.of("rules", List.of(Map.of("to", List.of(Map.of("operation", Map.of("ports", List.of("99999"))))))),
                "spec.rules[0].to[0].operation.ports[0]: '99999' is not a TCP port");
        refused(Map.of("rules", List.of(Map.of("from", List.of(Map.of("source", Map.of("ipBlocks",
                List.of("10.0.0.0/33"))))))), "spec.rules[0].from[0].source.ipBlocks[0]: '10.0.0.0/33': the prefix");
        refused(Map.of("rules", List.of(Map.of("when", List.of(Map.of("key", "source.ip", "values",
                List.of("nope")))))), "spec.rules[0].when[0]: 'nope' is not an address");
        refused(Map.of("colour", "red"), "spec.colour: unknown field");
        refused(Map.of("rules", "all"), "spec.rules: expected a list, found 'all'");
    }

    @Test
    void aGoodSpecReads() throws Exception {
        AuthorizationPolicy p = PolicyReader.read("ns", "p", Map.of("action", "DENY",
                "selector", Map.of("matchLabels", Map.of("app", "api")),
                "rules", List.of(Map.of("from", List.of(Map.of("source", Map.of("namespaces", List.of("x"))))))),
                "spec");
        assertThat(p.action()).isEqualTo(AuthorizationPolicy.Action.DENY);
        assertThat(p.selector()).isEqualTo(Map.of("app", "api"));
        assertThat(p.rules().getFirst().from().getFirst().namespaces()).containsExactly("x");
    }
}
