package io.nodemesh.proxy.policy;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.NamespaceSpec;
import io.nodemesh.proxy.discovery.PeerAuthentication;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Istio's L4 authorization semantics, as a pure function: no sockets. */
class AuthorizerTest {

    private static final PodSpec API = new PodSpec("api", "shop", "api", List.of(InetAddress.ofLiteral("10.1.0.3")),
            "n1", Map.of("app", "api"), Path.of("/x"), true, true, List.of(), List.of(), List.of());
    private static final PodSpec DB = new PodSpec("db", "shop", "db", List.of(InetAddress.ofLiteral("10.1.0.4")),
            "n1", Map.of("app", "db"), Path.of("/y"), true, true, List.of(), List.of(), List.of());

    private static Peer from(String ns, String sa, String ip, int port) {
        return new Peer(new SpiffeId("cluster.local", ns, sa), InetAddress.ofLiteral(ip), port);
    }

    private static Peer plaintext(String ip, int port) {
        return new Peer(null, InetAddress.ofLiteral(ip), port);
    }

    private static MeshSnapshot with(String... policies) throws Exception {
        StringBuilder yaml = new StringBuilder("policies:\n");
        for (String p : policies) {
            yaml.append(p);
        }
        List<AuthorizationPolicy> list = io.nodemesh.proxy.discovery.StandaloneConfig.parse("f", yaml.toString())
                .snapshot().policies();
        return new MeshSnapshot(ProxySettings.defaults(), List.of(), List.of(API, DB), List.of(), list);
    }

    @Test
    void withoutPoliciesEverythingIsAllowed() throws Exception {
        assertThat(Authorizer.decide(with(), API, plaintext("10.9.9.9", 80)).allowed()).isTrue();
    }

    @Test
    void aDenyFromOneNamespaceBlocksThatNamespaceAndNothingElse() throws Exception {
        MeshSnapshot mesh = with("""
                  - name: no-legacy
                    namespace: shop
                    action: DENY
                    rules: [{from: [{source: {namespaces: [legacy]}}]}]
                """);
        Authorizer.Decision denied = Authorizer.decide(mesh, API, from("legacy", "old", "10.2.0.1", 8080));
        assertThat(denied.allowed()).isFalse();
        assertThat(denied.reason()).isEqualTo("denied by policy shop/no-legacy (DENY)");
        assertThat(Authorizer.decide(mesh, API, from("web", "front", "10.2.0.2", 8080)).allowed()).isTrue();
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.0.1", 8080)).allowed())
                .as("a namespace matches only an authenticated peer").isTrue();
    }

    @Test
    void anAllowPolicyAdmitsOnlyItsPrincipalsOnTheWorkloadsItSelects() throws Exception {
        MeshSnapshot mesh = with("""
                  - name: api-from-web
                    namespace: shop
                    selector: {matchLabels: {app: api}}
                    rules: [{from: [{source: {principals: ["cluster.local/ns/web/sa/front"]}}]}]
                """);
        assertThat(Authorizer.decide(mesh, API, from("web", "front", "10.2.0.2", 8080)).reason())
                .isEqualTo("allowed by policy shop/api-from-web (ALLOW)");
        Authorizer.Decision other = Authorizer.decide(mesh, API, from("web", "other", "10.2.0.3", 8080));
        assertThat(other.allowed()).isFalse();
        assertThat(other.reason()).isEqualTo("no ALLOW policy matches: [shop/api-from-web]");
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.0.2", 8080)).allowed()).isFalse();
        assertThat(Authorizer.decide(mesh, DB, from("web", "other", "10.2.0.3", 5432)).allowed())
                .as("not selected: no policy").isTrue();
    }

    @Test
    void denyWinsOverAllow() throws Exception {
        MeshSnapshot mesh = with("""
                  - name: all
                    namespace: shop
                    rules: [{}]
                  - name: not-9000
                    namespace: shop
                    action: DENY
                    rules: [{to: [{operation: {ports: ["9000"]}}]}]
                """);
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.0.2", 8080)).allowed()).isTrue();
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.0.2", 9000)).reason())
                .isEqualTo("denied by policy shop/not-9000 (DENY)");
    }

    @Test
    void anAllowWithoutRulesAllowsNothingAndADenyWithoutRulesDeniesNothing() throws Exception {
        assertThat(Authorizer.decide(with("  - {name: a, namespace: shop}\n"), API, plaintext("10.2.0.2", 80))
                .allowed()).isFalse();
        assertThat(Authorizer.decide(with("  - {name: d, namespace: shop, action: DENY}\n"), API,
                plaintext("10.2.0.2", 80)).allowed()).isTrue();
    }

    @Test
    void blocksPortsConditionsAndWildcards() throws Exception {
        MeshSnapshot mesh = with("""
                  - name: inside
                    namespace: shop
                    rules:
                      - from: [{source: {ipBlocks: [10.2.0.0/16], notIpBlocks: [10.2.9.0/24]}}]
                        to: [{operation: {notPorts: ["22"]}}]
                      - from: [{source: {principals: ["*/sa/admin"]}}]
                        when: [{key: destination.port, values: ["22"]}, {key: source.namespace, notValues: ["dev*"]}]
                """);
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.1.1", 80)).allowed()).isTrue();
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.9.1", 80)).allowed()).as("notIpBlocks").isFalse();
        assertThat(Authorizer.decide(mesh, API, plaintext("10.3.0.1", 80)).allowed()).as("outside").isFalse();
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.1.1", 22)).allowed()).as("notPorts").isFalse();
        assertThat(Authorizer.decide(mesh, API, from("ops", "admin", "10.3.0.1", 22)).allowed()).isTrue();
        assertThat(Authorizer.decide(mesh, API, from("dev-1", "admin", "10.3.0.1", 22)).allowed()).isFalse();
        assertThat(Authorizer.decide(mesh, API, new Peer(null, InetAddress.ofLiteral("fd00::1"), 80)).allowed())
                .as("an IPv6 peer is in no IPv4 block").isFalse();
    }

    @Test
    void policiesOfAnotherNamespaceDoNotApply() throws Exception {
        MeshSnapshot mesh = with("  - {name: a, namespace: other}\n");
        assertThat(Authorizer.decide(mesh, API, plaintext("10.2.0.2", 80)).allowed()).isTrue();
        assertThat(Authorizer.applying(mesh, API)).isEmpty();
    }

    @Test
    void explainSaysWhatAppliesAndWhatItLetsIn() throws Exception {
        String deny = "  - {name: d, namespace: shop, action: DENY, selector: {matchLabels: {app: api}}, "
                + "rules: [{from: [{source: {namespaces: [dev]}}]}]}\n";
        String allow = "  - {name: a, namespace: shop, rules: [{from: [{source: {namespaces: [shop]}}]}]}\n";
        assertThat(Authorizer.explain(with(), API).effect()).isEqualTo("no policy selects it: every connection is allowed");
        assertThat(Authorizer.explain(with(deny), API).effect())
                .isEqualTo("connections a DENY policy matches are denied [shop/d]; the rest are allowed");
        assertThat(Authorizer.explain(with(deny), DB).applying()).as("the selector leaves db out").isEmpty();
        assertThat(Authorizer.explain(with(allow), DB).effect())
                .isEqualTo("only connections an ALLOW policy matches are allowed [shop/a]");
        Authorizer.Explanation both = Authorizer.explain(with(deny, allow), API);
        assertThat(both.workload()).isEqualTo("shop/api");
        assertThat(both.applying()).extracting(AuthorizationPolicy::key).containsExactly("shop/d", "shop/a");
        assertThat(both.effect()).isEqualTo("connections a DENY policy matches are denied [shop/d]; of the rest only "
                + "those an ALLOW policy matches are allowed [shop/a]");
        assertThat(both.peerAuthentication()).isEqualTo(PeerAuthentication.PERMISSIVE);

        MeshSnapshot strict = new MeshSnapshot(ProxySettings.defaults(),
                List.of(new NamespaceSpec("shop", Map.of(PeerAuthentication.LABEL, "strict"))), List.of(API, DB),
                List.of(), List.of());
        assertThat(Authorizer.explain(strict, API).effect())
                .isEqualTo("no policy selects it: every connection is allowed; plaintext is refused (peer authentication strict)");
    }
}
