package io.nodemesh.discovery.kubernetes;

import static io.nodemesh.discovery.kubernetes.Resources.endpoint;
import static io.nodemesh.discovery.kubernetes.Resources.namespace;
import static io.nodemesh.discovery.kubernetes.Resources.optedOut;
import static io.nodemesh.discovery.kubernetes.Resources.pod;
import static io.nodemesh.discovery.kubernetes.Resources.service;
import static io.nodemesh.discovery.kubernetes.Resources.slice;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import io.nodemesh.proxy.discovery.ServiceTarget;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * The rules that turn the source's cached objects into a snapshot, without an API server. The objects are built with
 * fabric8 ({@link Resources}) and reach the builder through their JSON ({@link ApiJson}), as the source reads them.
 */
class SnapshotBuilderTest {

    private static final String NODE = "node-a";

    @Test
    void podsOfAnEnrolledNamespaceOnThisNodeAreCapturedWithTheirNamespaceOnceFound() {
        Pod web = pod("shop", "web", NODE, "10.1.0.5").build();
        SnapshotBuilder.Result r = build(List.of(namespace("shop", true)), List.of(web), List.of(), List.of(),
                Map.of());

        PodSpec spec = r.snapshot().pods().get("shop/web");
        assertThat(spec.meshed()).isTrue();
        assertThat(spec.capture()).isTrue();
        assertThat(spec.netns()).isNull();
        assertThat(spec.serviceAccount()).isEqualTo("sa-web");
        assertThat(spec.node()).isEqualTo(NODE);
        assertThat(spec.labels()).containsEntry("app", "web");
        assertThat(r.unplaced()).extracting(SnapshotBuilder.Unplaced::key).containsExactly("shop/web");

        Path netns = Path.of("/var/run/netns/web");
        r = build(List.of(namespace("shop", true)), List.of(web), List.of(), List.of(),
                Map.of(web.getMetadata().getUid(), netns));
        assertThat(r.snapshot().pods().get("shop/web").netns()).isEqualTo(netns);
        assertThat(r.unplaced()).isEmpty();
    }

    @Test
    void anEbpfCaptureLooksForItsPodsCgroupsByUidAndTheOthersDoNot() {
        Pod web = pod("shop", "web", NODE, "10.1.0.5").build();
        Pod other = pod("other", "x", NODE, "10.1.0.7").build();
        Path cgroup = Path.of("/sys/fs/cgroup/kubepods.slice/web");
        List<String> asked = new java.util.ArrayList<>();
        Function<String, Path> cgroups = uid -> {
            asked.add(uid);
            return uid.equals(web.getMetadata().getUid()) ? cgroup : null;
        };
        SnapshotBuilder.Result ebpf = SnapshotBuilder.build(NODE,
                ProxySettings.defaults().withCapture(io.nodemesh.rules.CaptureMode.EBPF),
                lean(List.of(namespace("shop", true), namespace("other", false)), ApiJson::of),
                lean(List.of(web, other), ApiJson::of), List.of(), List.of(), List.of(), List.of(), Map.of(), cgroups);
        assertThat(ebpf.snapshot().pods().get("shop/web").cgroup()).isEqualTo(cgroup);
        assertThat(asked).as("only meshed pods are looked for").containsExactly(web.getMetadata().getUid());

        asked.clear();
        SnapshotBuilder.Result redirect = SnapshotBuilder.build(NODE, ProxySettings.defaults(),
                lean(List.of(namespace("shop", true)), ApiJson::of), lean(List.of(web), ApiJson::of), List.of(),
                List.of(), List.of(), List.of(), Map.of(), cgroups);
        assertThat(redirect.snapshot().pods().get("shop/web").cgroup()).isNull();
        assertThat(asked).isEmpty();
    }

    @Test
    void enrolmentFollowsTheLabelTheAnnotationAndNeverTheHostNetwork() {
        Pod plain = pod("shop", "plain", NODE, "10.1.0.5").build();
        Pod optedOut = Resources.optedOut(pod("shop", "out", NODE, "10.1.0.6").build());
        Pod host = pod("shop", "host", NODE, "192.168.0.1").editSpec().withHostNetwork(true).endSpec().build();
        Pod elsewhere = pod("other", "x", NODE, "10.1.0.7").build();
        MeshSnapshot s = build(List.of(namespace("shop", true), namespace("other", false)),
                List.of(plain, optedOut, host, elsewhere), List.of(), List.of(), Map.of()).snapshot();

        assertThat(s.pods().get("shop/plain").capture()).isTrue();
        assertThat(s.pods().get("shop/out").meshed()).isFalse();
        assertThat(s.pods().get("shop/out").capture()).isFalse();
        assertThat(s.pods()).doesNotContainKey("shop/host"); // the node's address: not a workload of its own
        assertThat(s.pods().get("other/x").meshed()).isFalse();

        MeshSnapshot unlabelled = build(List.of(namespace("shop", false)), List.of(plain), List.of(), List.of(),
                Map.of()).snapshot();
        assertThat(unlabelled.pods().get("shop/plain").capture()).isFalse();
    }

    @Test
    void podsOfOtherNodesAndFinishedOnesAreNotThisNodesToCaptureAndOneWithoutAnAddressAwaitsTheCniPlugin() {
        Pod other = pod("shop", "remote", "node-b", "10.2.0.5").build();
        Pod pending = pod("shop", "pending", NODE, "10.1.0.9").editStatus().withPhase("Pending").withPodIP(null)
                .withPodIPs(List.of()).endStatus().build();
        Pod outside = pod("free", "pending", NODE, "10.1.0.11").editStatus().withPhase("Pending").withPodIP(null)
                .withPodIPs(List.of()).endStatus().build();
        Pod done = pod("shop", "done", NODE, "10.1.0.10").editStatus().withPhase("Succeeded").endStatus().build();
        SnapshotBuilder.Result r = build(List.of(namespace("shop", true), namespace("free", false)),
                List.of(other, pending, outside, done), List.of(), List.of(), Map.of());
        // The pending pod of an enrolled namespace is there to be captured, without address or namespace: the CNI
        // plugin hands both over while its sandbox is set up. It is not looked for by address meanwhile.
        assertThat(r.snapshot().pods().keySet()).containsExactly("shop/pending");
        PodSpec p = r.snapshot().pods().get("shop/pending");
        assertThat(p.capture()).isTrue();
        assertThat(p.ips()).isEmpty();
        assertThat(p.netns()).isNull();
        assertThat(r.unplaced()).isEmpty();
    }

    @Test
    void aServiceReachesItsSlicesEndpointsByTheNamedTargetPortAndOnlyReadyOnes() {
        Pod web = pod("shop", "web", NODE, "10.1.0.5").build();
        Service svc = service("shop", "web", "10.96.0.10", 80);
        EndpointSlice slice = slice("shop", "web-abc", "web", 8080,
                endpoint("10.1.0.5", "shop", "web", NODE, true),
                endpoint("10.2.0.5", "shop", "web-remote", "node-b", true),
                endpoint("10.2.0.6", "shop", "web-sick", "node-b", false));
        MeshSnapshot s = build(List.of(namespace("shop", true)), List.of(web), List.of(svc), List.of(slice),
                Map.of()).snapshot();

        ServiceSpec spec = s.services().get("shop/web");
        assertThat(spec.ports()).containsExactly(new ServiceSpec.Port("http", 80, "http"));
        assertThat(spec.endpoints()).hasSize(3);
        assertThat(spec.readyEndpoints()).isEqualTo(2);
        ServiceTarget target = s.serviceAt(ip("10.96.0.10"), 80);
        assertThat(target.backendList()).extracting(b -> b.address().getAddress().getHostAddress() + ":"
                + b.address().getPort()).containsExactly("10.1.0.5:8080", "10.2.0.5:8080");
        // The other node's endpoint is a pod of that node, meshed (its namespace is enrolled), not captured here.
        PodSpec remote = s.pods().get("shop/web-remote");
        assertThat(remote.node()).isEqualTo("node-b");
        assertThat(remote.meshed()).isTrue();
        assertThat(remote.capture()).isFalse();
        assertThat(target.backendList().get(1).pod()).isEqualTo(remote);
    }

    @Test
    void endpointsOfANamespaceNotEnrolledStayPlainAddresses() {
        Service svc = service("legacy", "db", "10.96.0.20", 5432);
        EndpointSlice slice = slice("legacy", "db-1", "db", 5432, endpoint("10.2.0.8", "legacy", "db", "node-b", true));
        MeshSnapshot s = build(List.of(namespace("legacy", false)), List.of(), List.of(svc), List.of(slice), Map.of())
                .snapshot();
        assertThat(s.pods()).isEmpty();
        assertThat(s.serviceAt(ip("10.96.0.20"), 5432).backendList().getFirst().pod()).isNull();
    }

    @Test
    void badInputIsLeftOutAndNamedWithoutPoisoningTheRest() {
        Pod good = pod("shop", "good", NODE, "10.1.0.5").build();
        Pod badIp = pod("shop", "bad-ip", NODE, "10.1.0.300").build();
        Pod noName = new PodBuilder(good).editMetadata().withName(null).endMetadata().build();
        Pod sameIp = pod("shop", "twin", NODE, "10.1.0.5").build();
        Pod noSa = pod("shop", "no-sa", NODE, "10.1.0.6").editSpec().withServiceAccountName(null).endSpec().build();
        Service absurdPort = new ServiceBuilder(service("shop", "absurd", "10.96.0.30", 80)).editSpec()
                .editFirstPort().withPort(70000).endPort().endSpec().build();
        Service badVip = service("shop", "bad-vip", "not-an-ip", 80);
        Service clash = service("shop", "clash", "10.1.0.5", 80);
        EndpointSlice orphan = slice("shop", "orphan-1", "orphan", 80, endpoint("10.1.0.5", "shop", "good", NODE,
                true));
        EndpointSlice badEndpoint = slice("shop", "absurd-1", "absurd", 0,
                endpoint("10.1.0.999", "shop", "good", NODE, true));

        SnapshotBuilder.Result r = build(List.of(namespace("shop", true)),
                List.of(good, badIp, noName, sameIp, noSa), List.of(absurdPort, badVip, clash),
                List.of(orphan, badEndpoint), Map.of());

        assertThat(r.snapshot().pods()).containsOnlyKeys("shop/good", "shop/no-sa");
        assertThat(r.snapshot().pods().get("shop/no-sa").serviceAccount()).isEqualTo("default");
        assertThat(r.snapshot().services()).containsOnlyKeys("shop/absurd");
        assertThat(r.snapshot().services().get("shop/absurd").ports()).isEmpty();
        assertThat(r.problems()).containsExactlyInAnyOrder(
                "a pod without metadata.name or metadata.namespace: left out",
                "pod shop/bad-ip: status.podIPs: '10.1.0.300' is not an IP address: left out",
                "pod shop/twin: 10.1.0.5 is also the address of pod shop/good: left out",
                "service shop/absurd: port http 70000 is not a TCP port (1-65535): left out",
                "EndpointSlice shop/absurd-1 of service shop/absurd: port 0 is not a TCP port (1-65535): left out",
                "EndpointSlice shop/absurd-1: '10.1.0.999' is not an IP address: left out",
                "service shop/bad-vip: spec.clusterIPs: 'not-an-ip' is not an IP address: left out",
                "service shop/clash: 10.1.0.5 is the address of pod shop/good: left out",
                "EndpointSlice shop/orphan-1: service shop/orphan does not exist: left out");
    }

    @Test
    void otherNodesPodsOfEnrolledNamespacesAreMeshedWithTheirIdentityAndNeverCapturedHere() {
        Pod remote = pod("shop", "api", "node-b", "10.2.0.5").build();
        Pod optedOut = optedOut(pod("shop", "batch", "node-b", "10.2.0.6").build());
        Pod hostNet = pod("shop", "agent", "node-b", "10.0.0.2").editSpec().withHostNetwork(true).endSpec().build();
        Pod legacy = pod("legacy", "db", "node-b", "10.2.0.8").build();
        Pod local = pod("shop", "web", NODE, "10.1.0.5").build();
        List<Pod> cluster = List.of(remote, optedOut, hostNet, legacy, local);
        // The endpoint of a pod the cache of every node's pods has not seen yet: meshed, identity unknown.
        EndpointSlice slice = slice("shop", "api-1", "api", 8080, endpoint("10.2.0.5", "shop", "api", "node-b", true),
                endpoint("10.2.0.9", "shop", "api-new", "node-c", true));
        MeshSnapshot s = SnapshotBuilder.build(NODE, ProxySettings.defaults(),
                lean(List.of(namespace("shop", true), namespace("legacy", false)), ApiJson::of),
                lean(List.of(local), ApiJson::of), lean(cluster, ApiJson::of),
                lean(List.of(service("shop", "api", "10.96.0.11", 80)), ApiJson::of), lean(List.of(slice), ApiJson::of),
                List.of(), Map.of()).snapshot();

        assertThat(s.pods()).containsOnlyKeys("shop/web", "shop/api", "shop/api-new");
        PodSpec api = s.pods().get("shop/api");
        assertThat(api.serviceAccount()).isEqualTo("sa-api");
        assertThat(api.node()).isEqualTo("node-b");
        assertThat(api.labels()).containsEntry("app", "api");
        assertThat(api.meshed()).isTrue();
        assertThat(api.capture()).isFalse();
        assertThat(s.pods().get("shop/api-new").serviceAccount()).isEmpty();
        assertThat(s.pods().get("shop/web").capture()).isTrue();
    }

    @Test
    void theSameInputGivesAnEqualSnapshot() {
        List<Namespace> ns = List.of(namespace("shop", true));
        List<Pod> pods = List.of(pod("shop", "a", NODE, "10.1.0.5").build(),
                pod("shop", "b", NODE, "10.1.0.6").build());
        List<Service> svc = List.of(service("shop", "web", "10.96.0.10", 80));
        assertThat(build(ns, pods, svc, List.of(), Map.of()).snapshot())
                .isEqualTo(build(ns, pods.reversed(), svc, List.of(), Map.of()).snapshot());
    }

    private static SnapshotBuilder.Result build(List<Namespace> ns, List<Pod> pods, List<Service> services,
            List<EndpointSlice> slices, Map<String, Path> netns) {
        return SnapshotBuilder.build(NODE, ProxySettings.defaults(), lean(ns, ApiJson::of), lean(pods, ApiJson::of),
                List.of(), lean(services, ApiJson::of), lean(slices, ApiJson::of), List.of(), netns);
    }

    private static <T, R> List<R> lean(List<T> objects, Function<T, R> read) {
        return objects.stream().map(read).toList();
    }

    private static InetAddress ip(String text) {
        return InetAddress.ofLiteral(text);
    }
}
