package io.nodemesh.discovery.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.proxy.policy.AuthorizationPolicy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The policies as the source reads them from the API's JSON: enforced as written, or closed and named. */
class PolicyResourcesTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aPolicyFromJsonReadsAsFromYamlWithItsPortsAsNumbers() throws Exception {
        List<String> problems = new ArrayList<>();
        List<AuthorizationPolicy> read = PolicyResources.read(List.of(policy("shop", "api", """
                {"selector": {"matchLabels": {"app": "api"}}, "action": "DENY",
                 "rules": [{"to": [{"operation": {"ports": [8080, "9090"], "notPorts": [65535]}}]}]}
                """)), problems);

        assertThat(problems).isEmpty();
        AuthorizationPolicy p = read.getFirst();
        assertThat(p.key()).isEqualTo("shop/api");
        assertThat(p.action()).isEqualTo(AuthorizationPolicy.Action.DENY);
        assertThat(p.selector()).isEqualTo(Map.of("app", "api"));
        assertThat(p.rules().getFirst().to().getFirst().ports()).containsExactly(8080, 9090);
        assertThat(p.rules().getFirst().to().getFirst().notPorts()).containsExactly(65535);
    }

    @Test
    void aSpecThatIsNoMappingIsEnforcedClosedAndNamedInOrder() throws Exception {
        List<String> problems = new ArrayList<>();
        List<AuthorizationPolicy> read = PolicyResources.read(List.of(policy("shop", "b", "\"DENY\""),
                policy("shop", "a", null), policy("legacy", "c", """
                {"action": "DENY", "selector": {"matchLabels": {"app": "db"}},
                 "rules": [{"to": [{"operation": {"paths": ["/admin"]}}]}]}
                """)), problems);

        assertThat(read).extracting(AuthorizationPolicy::key).containsExactly("legacy/c", "shop/a", "shop/b");
        assertThat(read.get(0).action()).isEqualTo(AuthorizationPolicy.Action.DENY);
        assertThat(read.get(0).selector()).isEqualTo(Map.of("app", "db"));
        assertThat(read.get(1).action()).isEqualTo(AuthorizationPolicy.Action.ALLOW);
        assertThat(read.get(1).rules()).isEmpty();
        assertThat(problems).containsExactly(
                "NodemeshAuthorizationPolicy legacy/c: spec.rules[0].to[0].operation.paths: cannot be enforced at L4: "
                        + "it is an L7 attribute (HTTP); the policy is refused rather than enforced without it; "
                        + "enforced closed: it denies every connection to the workloads it selects",
                "NodemeshAuthorizationPolicy shop/a: spec: expected a mapping; enforced closed: it admits no "
                        + "connection to the workloads it selects",
                "NodemeshAuthorizationPolicy shop/b: spec: expected a mapping; enforced closed: it admits no "
                        + "connection to the workloads it selects");
    }

    @Test
    void theListPathIsTheCustomResourcesOfEveryNamespace() {
        assertThat(PolicyResources.PATH).isEqualTo("/apis/nodemesh.io/v1alpha1/nodemeshauthorizationpolicies");
    }

    /** The policy {@code namespace/name} as the API sends it, with {@code spec} (JSON text) unless null. */
    private static ApiObjects.Policy policy(String namespace, String name, String spec) throws Exception {
        return ApiObjects.policy(JSON.readTree("""
                {"apiVersion": "nodemesh.io/v1alpha1", "kind": "NodemeshAuthorizationPolicy",
                 "metadata": {"namespace": "%s", "name": "%s", "generation": 1}%s}
                """.formatted(namespace, name, spec == null ? "" : ", \"spec\": " + spec)));
    }
}
