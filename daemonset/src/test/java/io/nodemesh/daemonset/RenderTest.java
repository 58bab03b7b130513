package io.nodemesh.daemonset;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** Base, default and kind overlay render with {@code kubectl kustomize} into exactly the objects of an install. */
class RenderTest {

    static Stream<Path> directories() {
        return Stream.of(Manifests.BASE, Manifests.DEFAULT, Manifests.KIND, Manifests.ONE_PROCESS);
    }

    @ParameterizedTest
    @MethodSource("directories")
    void rendersIntoTheInstallsObjectsEveryFieldKnownToTheModel(Path dir) {
        Manifests m = Manifests.render(dir);
        assertThat(m.objects()).extracting(o -> o.getClass().getSimpleName() + "/" + o.getMetadata().getName())
                .containsExactlyInAnyOrder("Namespace/nodemesh-system",
                        "CustomResourceDefinition/nodemeshauthorizationpolicies.nodemesh.io",
                        "ServiceAccount/nodemesh", "ClusterRole/nodemesh-proxy", "ClusterRoleBinding/nodemesh-proxy",
                        "ConfigMap/" + m.one(ConfigMap.class).getMetadata().getName(), "DaemonSet/nodemesh");
        assertThat(m.one(ConfigMap.class).getMetadata().getName()).startsWith("nodemesh-mesh-");
        for (HasMetadata o : m.objects()) {
            boolean clusterScoped = o instanceof Namespace || o instanceof CustomResourceDefinition
                    || o instanceof ClusterRole || o instanceof ClusterRoleBinding;
            assertThat(o.getMetadata().getNamespace()).as(o.getKind())
                    .isEqualTo(clusterScoped ? null : "nodemesh-system");
        }
        assertThat(m.one(ServiceAccount.class).getMetadata().getName())
                .isEqualTo(m.pod().getServiceAccountName());
        // The pod mounts the generated ConfigMap by its hashed name.
        assertThat(m.volume("mesh").getConfigMap().getName()).isEqualTo(m.one(ConfigMap.class).getMetadata().getName());
    }

    @Test
    void theDefaultIsTheBaseAndKindLoadsItsImageLocally() {
        Manifests base = Manifests.render(Manifests.BASE);
        Manifests kind = Manifests.render(Manifests.KIND);
        assertThat(Manifests.json(Manifests.render(Manifests.DEFAULT).objects()))
                .isEqualTo(Manifests.json(base.objects()));
        for (String name : new String[] {"install-cni", "listener-keeper", "node-proxy", "telemetry-agent"}) {
            assertThat(base.container(name).getImage()).isEqualTo("nodemesh/nodemesh:0.1.0");
            assertThat(kind.container(name).getImage()).isEqualTo("nodemesh/nodemesh:0.1.0");
            assertThat(kind.container(name).getImagePullPolicy()).as(name).isEqualTo("Never");
        }
        assertThat(kind.one(DaemonSet.class).getSpec().getTemplate().getSpec().getContainers())
                .hasSameSizeAs(base.pod().getContainers());
        assertThat(kind.pod().getInitContainers()).extracting(c -> c.getName())
                .containsExactlyElementsOf(base.pod().getInitContainers().stream().map(c -> c.getName()).toList());
    }

    @Test
    void oneProcessIsTheBaseWithTheAgentInTheProxysContainer() {
        Manifests base = Manifests.render(Manifests.BASE);
        Manifests one = Manifests.render(Manifests.ONE_PROCESS);
        assertThat(one.pod().getContainers()).extracting(c -> c.getName()).containsExactly("node-proxy");
        // The base's arguments but the report socket, then the agent's.
        assertThat(one.container("node-proxy").getArgs()).containsSequence(base.container("node-proxy").getArgs()
                        .stream().filter(a -> !a.startsWith("--telemetry-socket=")).toList())
                .endsWith("--agent-in-process", "--metrics-address=0.0.0.0:15020")
                .noneMatch(a -> a.startsWith("--telemetry-socket"));
        assertThat(one.pod().getVolumes()).extracting(v -> v.getName()).doesNotContain("telemetry");
        assertThat(one.container("node-proxy").getVolumeMounts()).extracting(v -> v.getName())
                .containsExactlyElementsOf(base.container("node-proxy").getVolumeMounts().stream()
                        .map(v -> v.getName()).filter(n -> !n.equals("telemetry")).toList());
        assertThat(one.container("node-proxy").getPorts()).extracting(p -> p.getContainerPort())
                .containsExactlyInAnyOrder(15020, 15021);
        assertThat(one.container("node-proxy").getLivenessProbe()).as("a failing one would restart the proxy").isNull();
        assertThat(one.container("node-proxy").getSecurityContext())
                .isEqualTo(base.container("node-proxy").getSecurityContext());
        assertThat(one.container("install-cni")).isEqualTo(base.container("install-cni"));
        // The keeper belongs to every install: the hosted agent changes nothing of it.
        assertThat(one.pod().getInitContainers()).isEqualTo(base.pod().getInitContainers());
        assertThat(one.one(DaemonSet.class).getSpec().getTemplate().getMetadata().getAnnotations())
                .isEqualTo(base.one(DaemonSet.class).getSpec().getTemplate().getMetadata().getAnnotations());
    }

    @Test
    void aMisspeltFieldFailsTheRead() {
        String yaml = """
                apiVersion: apps/v1
                kind: DaemonSet
                metadata:
                  name: nodemesh
                spec:
                  selector: {matchLabels: {app: x}}
                  template:
                    spec:
                      containers:
                        - name: node-proxy
                          image: nodemesh/nodemesh:0.1.0
                          imagePullPolcy: Never
                """;
        assertThatThrownBy(() -> Manifests.parse("test", yaml)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("imagePullPolcy");
    }

    @Test
    void aMisspeltSchemaFieldFailsTheReadToo() {
        // JSONSchemaProps keeps no unknown fields: it drops them, which the round trip notices.
        String yaml = """
                apiVersion: apiextensions.k8s.io/v1
                kind: CustomResourceDefinition
                metadata:
                  name: things.example.org
                spec:
                  group: example.org
                  scope: Namespaced
                  names: {kind: Thing, plural: things}
                  versions:
                    - name: v1
                      served: true
                      storage: true
                      schema:
                        openAPIV3Schema:
                          type: object
                          properites: {spec: {type: object}}
                """;
        assertThatThrownBy(() -> Manifests.parse("test", yaml)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("properites");
    }

    @Test
    void aValueOfTheWrongTypeFailsTheRead() {
        String yaml = """
                apiVersion: v1
                kind: ServiceAccount
                metadata:
                  name: nodemesh
                automountServiceAccountToken: sometimes
                """;
        assertThatThrownBy(() -> Manifests.parse("test", yaml)).isInstanceOf(AssertionError.class)
                .hasMessageContaining("automountServiceAccountToken");
    }
}
