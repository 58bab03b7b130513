package io.nodemesh.discovery.kubernetes;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.nodemesh.proxy.discovery.Enrolment;
import java.util.Arrays;
import java.util.Map;
import java.util.UUID;

/**
 * Kubernetes objects as the API holds them, built the short way for the tests (and, through this module's test jar,
 * for the benchmarks' and the AOT training's API mock).
 */
public final class Resources {

    private Resources() {
    }

    public static Namespace namespace(String name, boolean enrolled) {
        return new NamespaceBuilder().withNewMetadata().withName(name)
                .withLabels(enrolled ? Map.of(Enrolment.KEY, Enrolment.ENABLED) : Map.of()).endMetadata().build();
    }

    /** A running pod on {@code node} with address {@code ip}, service account {@code sa}, label app={@code name}. */
    public static PodBuilder pod(String namespace, String name, String node, String ip) {
        return new PodBuilder().withNewMetadata().withNamespace(namespace).withName(name)
                .withUid(UUID.randomUUID().toString()).withLabels(Map.of("app", name)).endMetadata()
                .withNewSpec().withNodeName(node).withServiceAccountName("sa-" + name).endSpec()
                .withNewStatus().withPhase("Running").withPodIP(ip).addNewPodIP().withIp(ip).endPodIP().endStatus();
    }

    public static Pod optedOut(Pod pod) {
        return new PodBuilder(pod).editMetadata().withAnnotations(Map.of(Enrolment.KEY, Enrolment.DISABLED))
                .endMetadata().build();
    }

    /** A service with one named port {@code http}: {@code port} to the target port named {@code http}. */
    public static Service service(String namespace, String name, String clusterIp, int port) {
        return new ServiceBuilder().withNewMetadata().withNamespace(namespace).withName(name).endMetadata()
                .withNewSpec().withClusterIP(clusterIp).withClusterIPs(clusterIp)
                .withPorts(new ServicePortBuilder().withName("http").withPort(port).withProtocol("TCP")
                        .withTargetPort(new IntOrString("http")).build())
                .endSpec().build();
    }

    /** An EndpointSlice of {@code service} whose port {@code http} is {@code targetPort} on every endpoint. */
    public static EndpointSlice slice(String namespace, String name, String service, int targetPort, Endpoint... endpoints) {
        return new EndpointSliceBuilder().withNewMetadata().withNamespace(namespace).withName(name)
                .withLabels(Map.of(SnapshotBuilder.SERVICE_NAME_LABEL, service)).endMetadata()
                .withAddressType("IPv4")
                .withPorts(new EndpointPortBuilder().withName("http").withPort(targetPort).withProtocol("TCP").build())
                .withEndpoints(Arrays.asList(endpoints)).build();
    }

    /** An endpoint for the pod {@code namespace/pod} at {@code ip} on {@code node}. */
    public static Endpoint endpoint(String ip, String namespace, String pod, String node, boolean ready) {
        return new EndpointBuilder().withAddresses(ip).withNodeName(node)
                .withNewTargetRef().withKind("Pod").withNamespace(namespace).withName(pod).endTargetRef()
                .withNewConditions().withReady(ready).endConditions().build();
    }
}
