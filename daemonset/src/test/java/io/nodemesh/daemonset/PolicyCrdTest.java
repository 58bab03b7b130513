package io.nodemesh.daemonset;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionVersion;
import io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaProps;
import io.nodemesh.discovery.kubernetes.PolicyResources;
import io.nodemesh.proxy.policy.AuthorizationPolicy;
import io.nodemesh.proxy.policy.PolicyException;
import io.nodemesh.proxy.policy.PolicyReader;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/** The policy CRD names the resource the proxy watches, and its schema types exactly what PolicyReader reads. */
class PolicyCrdTest {

    /** A policy that uses every field of the schema, each with a value PolicyReader accepts. */
    private static final String EVERY_FIELD = """
            selector: {matchLabels: {app: server}}
            action: DENY
            rules:
              - from:
                  - source:
                      principals: [spiffe://cluster.local/ns/a/sa/client]
                      notPrincipals: [spiffe://cluster.local/ns/a/sa/other]
                      namespaces: [a]
                      notNamespaces: [b]
                      ipBlocks: [10.0.0.0/8]
                      notIpBlocks: [10.1.0.0/16]
                to:
                  - operation:
                      ports: [8080, "8443"]
                      notPorts: [9090]
                when:
                  - key: destination.port
                    values: ["8080"]
                    notValues: ["9090"]
            """;

    private final CustomResourceDefinition crd = Manifests.render(Manifests.BASE).one(CustomResourceDefinition.class);

    @Test
    void namesTheResourceTheProxyWatches() {
        assertThat(crd.getSpec().getGroup()).isEqualTo(PolicyResources.GROUP);
        assertThat(crd.getSpec().getNames().getKind()).isEqualTo(PolicyResources.KIND);
        assertThat(crd.getSpec().getNames().getPlural()).isEqualTo(PolicyResources.PLURAL);
        assertThat(crd.getSpec().getScope()).isEqualTo("Namespaced");
        assertThat(crd.getMetadata().getName())
                .isEqualTo(PolicyResources.PLURAL + "." + PolicyResources.GROUP);
        assertThat(crd.getSpec().getVersions()).singleElement().satisfies(v -> {
            assertThat(v.getName()).isEqualTo(PolicyResources.VERSION);
            assertThat(v.getServed()).isTrue();
            assertThat(v.getStorage()).isTrue();
        });
        assertThat(PolicyResources.PATH).isEqualTo("/apis/" + crd.getSpec().getGroup() + "/"
                + crd.getSpec().getVersions().getFirst().getName() + "/" + crd.getSpec().getNames().getPlural());
    }

    @Test
    void everyFieldOfTheSchemaIsOneTheReaderTakes() throws PolicyException {
        Map<?, ?> spec = new Yaml().load(EVERY_FIELD);
        AuthorizationPolicy policy = PolicyReader.read("a", "p", spec, "spec");
        assertThat(policy.action()).isEqualTo(AuthorizationPolicy.Action.DENY);
        // …and the example covers the schema: a field added to one and not the other fails here.
        JSONSchemaProps specSchema = schema().getProperties().get("spec");
        assertThat(paths(specSchema, "")).isEqualTo(paths(spec, ""));
    }

    @Test
    void unknownFieldsArePreservedForTheProxyToEnforceClosedNotPruned() {
        JSONSchemaProps spec = schema().getProperties().get("spec");
        assertThat(spec.getXKubernetesPreserveUnknownFields()).isTrue();
        JSONSchemaProps rule = spec.getProperties().get("rules").getItems().getSchema();
        assertThat(rule.getXKubernetesPreserveUnknownFields()).isTrue();
        assertThat(rule.getProperties().get("from").getItems().getSchema().getProperties().get("source")
                .getXKubernetesPreserveUnknownFields()).isTrue();
        assertThat(rule.getProperties().get("to").getItems().getSchema().getProperties().get("operation")
                .getXKubernetesPreserveUnknownFields()).isTrue();
        assertThat(spec.getProperties().get("action").getEnum()).extracting(e -> e.toString().replace("\"", ""))
                .containsExactly("ALLOW", "DENY");
    }

    private JSONSchemaProps schema() {
        CustomResourceDefinitionVersion v = crd.getSpec().getVersions().getFirst();
        return v.getSchema().getOpenAPIV3Schema();
    }

    private static Set<String> paths(JSONSchemaProps schema, String prefix) {
        Set<String> out = new TreeSet<>();
        JSONSchemaProps s = schema.getItems() != null ? schema.getItems().getSchema() : schema;
        if (s.getProperties() == null || s.getProperties().isEmpty() || prefix.endsWith("matchLabels")) {
            return out;
        }
        s.getProperties().forEach((name, child) -> {
            out.add(prefix + "." + name);
            out.addAll(paths(child, prefix + "." + name));
        });
        return out;
    }

    private static Set<String> paths(Object value, String prefix) {
        Set<String> out = new TreeSet<>();
        Object v = value instanceof java.util.List<?> l && !l.isEmpty() ? l.getFirst() : value;
        if (v instanceof Map<?, ?> m && !prefix.endsWith("matchLabels")) {
            m.forEach((k, child) -> {
                out.add(prefix + "." + k);
                out.addAll(paths(child, prefix + "." + k));
            });
        }
        return out;
    }
}
