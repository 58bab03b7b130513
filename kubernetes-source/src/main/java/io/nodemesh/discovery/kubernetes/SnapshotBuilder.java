package io.nodemesh.discovery.kubernetes;

import io.nodemesh.discovery.kubernetes.ApiObjects.ApiObject;
import io.nodemesh.discovery.kubernetes.ApiObjects.Endpoint;
import io.nodemesh.discovery.kubernetes.ApiObjects.EndpointSlice;
import io.nodemesh.discovery.kubernetes.ApiObjects.Meta;
import io.nodemesh.discovery.kubernetes.ApiObjects.Namespace;
import io.nodemesh.discovery.kubernetes.ApiObjects.Pod;
import io.nodemesh.discovery.kubernetes.ApiObjects.Policy;
import io.nodemesh.discovery.kubernetes.ApiObjects.Service;
import io.nodemesh.discovery.kubernetes.ApiObjects.ServicePort;
import io.nodemesh.discovery.kubernetes.ApiObjects.SlicePort;
import io.nodemesh.discovery.kubernetes.ApiObjects.TargetRef;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.Enrolment;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.NamespaceSpec;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import io.nodemesh.rules.CaptureMode;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * Turns what the source's caches hold ({@link ApiObjects}: namespaces, this node's pods, services, EndpointSlices,
 * policies) into a {@link MeshSnapshot}. A pure function of its inputs, so every rule is unit-tested without an API
 * server; {@link KubernetesSource} calls it on the control thread after each (debounced) change.
 *
 * <p>The rules, in the order they apply:
 * <ul>
 *   <li>A pod of this node enters the snapshot once it has an address and until it has finished ({@code Succeeded},
 *       {@code Failed}); a meshed one enters it before it has an address too (the CNI plugin hands it over, with its
 *       namespace and addresses, while its sandbox is set up: the API has no address before then); a pod on the
 *       host's network never does (its address is the node's, shared, and it is never
 *       captured). It is meshed by {@link Enrolment} and then captured here; its network namespace comes from
 *       {@code netnsByUid}, and a captured pod without one is listed in {@link Result#unplaced()} so that the source
 *       can look for it. A pod without a service account gets {@code default}, as the API server gives it.</li>
 *   <li>Pods of other nodes come from {@code clusterPods} (the source's cache of every node's pods): one of an
 *       enrolled namespace, not opted out and not on the host's network is a meshed pod of that node with its
 *       service account, so a tunnel to it requires its identity. Only those of enrolled
 *       namespaces are kept: the others route like any address outside the mesh. An endpoint of an EndpointSlice
 *       whose pod that cache has not seen yet becomes a meshed pod of its node too, with the service account
 *       {@code ""} (unknown: a tunnel to it fails its handshake until the pod is seen).</li>
 *   <li>A service's TCP ports at its cluster IPs; its endpoints are those of the EndpointSlices labelled
 *       {@code kubernetes.io/service-name} with its name in its namespace; a named target port is resolved by the
 *       slice's port of the service port's name; {@code conditions.ready} absent means ready (as the API says). An
 *       address listed by two slices (while a slice is being replaced) counts once, ready if either says so.</li>
 *   <li>Input the model cannot take (no name, an address that is not an IP literal, a port outside 1-65535, an
 *       address two pods or two services claim, a slice of a service that does not exist) is left out and named in
 *       {@link Result#problems()}; it never fails the snapshot.</li>
 * </ul>
 */
public final class SnapshotBuilder {

    /** The label by which an EndpointSlice names its service. */
    public static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

    private final String node;
    private final List<String> problems = new ArrayList<>();

    private SnapshotBuilder(String node) {
        this.node = node;
    }

    /**
     * What one build gives.
     *
     * @param snapshot the mesh as the source's caches held it
     * @param unplaced this node's pods to capture whose network namespace is not known yet
     * @param problems input left out, one line each, in a stable order (the source logs each once)
     */
    public record Result(MeshSnapshot snapshot, List<Unplaced> unplaced, List<String> problems) {
        public Result {
            unplaced = List.copyOf(unplaced);
            problems = List.copyOf(problems);
        }
    }

    /**
     * A pod of this node to capture whose network namespace is not known yet.
     *
     * @param uid the pod's uid (a pod recreated under the same name is another pod, in another namespace)
     * @param key {@code namespace/name}
     * @param ips its addresses, to look the namespace up by
     */
    public record Unplaced(String uid, String key, List<InetAddress> ips) {
        public Unplaced {
            ips = List.copyOf(ips);
        }
    }

    /**
     * Builds the snapshot of {@code node}.
     *
     * @param node this node's name (pods of other nodes are dropped here even if the API sent them: a field selector
     *     is a request, and the API mock ignores it)
     * @param settings the proxy's settings for the snapshot
     * @param clusterPods pods of every node, as far as the source keeps them (name, namespace, node, service account,
     *     labels, annotations, host network, phase, addresses): other nodes' meshed pods with their identities
     * @param policies the {@code NodemeshAuthorizationPolicy} objects ({@link PolicyResources})
     * @param netnsByUid the network namespaces found so far, by pod uid
     */
    public static Result build(String node, ProxySettings settings, Collection<Namespace> namespaces,
            Collection<Pod> pods, Collection<Pod> clusterPods, Collection<Service> services,
            Collection<EndpointSlice> slices, Collection<Policy> policies, Map<String, Path> netnsByUid) {
        return build(node, settings, namespaces, pods, clusterPods, services, slices, policies, netnsByUid,
                uid -> null);
    }

    /** {@link #build} with {@code cgroupByUid}: a captured pod's cgroup directory by its uid (null: not found). */
    public static Result build(String node, ProxySettings settings, Collection<Namespace> namespaces,
            Collection<Pod> pods, Collection<Pod> clusterPods, Collection<Service> services,
            Collection<EndpointSlice> slices, Collection<Policy> policies, Map<String, Path> netnsByUid,
            Function<String, Path> cgroupByUid) {
        return new SnapshotBuilder(node).build(settings, namespaces, pods, clusterPods, services, slices, policies,
                netnsByUid, cgroupByUid);
    }

    private Result build(ProxySettings settings, Collection<Namespace> namespaceObjects, Collection<Pod> podObjects,
            Collection<Pod> clusterPodObjects, Collection<Service> serviceObjects,
            Collection<EndpointSlice> sliceObjects, Collection<Policy> policyObjects, Map<String, Path> netnsByUid,
            Function<String, Path> cgroupByUid) {
        Map<String, NamespaceSpec> namespaces = namespaces(namespaceObjects);
        Map<InetAddress, String> owners = new HashMap<>();
        List<Unplaced> unplaced = new ArrayList<>();
        Map<String, PodSpec> pods = new LinkedHashMap<>();
        for (Pod pod : sorted(podObjects)) {
            // Only an eBPF capture attaches to a pod's cgroup; the others do not look for it.
            PodSpec spec = localPod(pod, namespaces, netnsByUid,
                    settings.capture() == CaptureMode.EBPF ? cgroupByUid : uid -> null);
            if (spec != null && claim(spec.key(), spec.ips(), owners)) {
                pods.put(spec.key(), spec);
                if (spec.capture() && spec.netns() == null && !spec.ips().isEmpty()) {
                    unplaced.add(new Unplaced(pod.meta().uid(), spec.key(), spec.ips()));
                }
            }
        }
        for (Pod pod : sorted(clusterPodObjects)) {
            PodSpec remote = remotePod(pod, namespaces);
            if (remote != null && !pods.containsKey(remote.key()) && claim(remote.key(), remote.ips(), owners)) {
                pods.put(remote.key(), remote);
            }
        }
        List<EndpointSlice> slices = sorted(sliceObjects);
        for (PodSpec remote : remotePods(slices, namespaces, pods.keySet())) {
            if (claim(remote.key(), remote.ips(), owners)) {
                pods.put(remote.key(), remote);
            }
        }
        List<ServiceSpec> services = services(sorted(serviceObjects), slices, owners);
        MeshSnapshot snapshot = new MeshSnapshot(settings, List.copyOf(namespaces.values()), List.copyOf(pods.values()),
                services, PolicyResources.read(policyObjects, problems));
        return new Result(snapshot, unplaced, problems);
    }

    private Map<String, NamespaceSpec> namespaces(Collection<Namespace> objects) {
        Map<String, NamespaceSpec> out = new TreeMap<>();
        for (Namespace ns : objects) {
            Meta meta = ns.meta();
            if (blank(meta.name())) {
                problems.add("a namespace without metadata.name: left out");
                continue;
            }
            out.put(meta.name(), new NamespaceSpec(meta.name(), meta.labels()));
        }
        return out;
    }

    /**
     * Another node's pod of an enrolled namespace, meshed by {@link Enrolment}, with its service account (its
     * identity), or null: this node's (its own cache says more), not enrolled, on the host's network, finished, or
     * without an address yet.
     */
    private PodSpec remotePod(Pod pod, Map<String, NamespaceSpec> namespaces) {
        Meta meta = pod.meta();
        if (blank(meta.name()) || blank(meta.namespace()) || blank(pod.nodeName()) || node.equals(pod.nodeName())) {
            return null;
        }
        NamespaceSpec ns = namespaces.get(meta.namespace());
        if (ns == null || !Enrolment.meshed(ns.labels(), meta.annotations(), pod.hostNetwork())) {
            return null;
        }
        List<InetAddress> ips = addresses(pod, meta.key());
        if (ips == null || ips.isEmpty()) {
            return null;
        }
        String sa = blank(pod.serviceAccountName()) ? "default" : pod.serviceAccountName();
        return new PodSpec(meta.name(), meta.namespace(), sa, ips, pod.nodeName(), meta.labels(), null, true, false,
                List.of(), List.of(), List.of());
    }

    /** This node's pod as the mesh sees it, or null when it is not in the snapshot (see the class comment). */
    private PodSpec localPod(Pod pod, Map<String, NamespaceSpec> namespaces, Map<String, Path> netnsByUid,
            Function<String, Path> cgroupByUid) {
        Meta meta = pod.meta();
        if (blank(meta.name()) || blank(meta.namespace())) {
            problems.add("a pod without metadata.name or metadata.namespace: left out");
            return null;
        }
        if (!node.equals(pod.nodeName())) {
            return null; // another node's, or not scheduled yet
        }
        if (pod.hostNetwork()) {
            return null;
        }
        List<InetAddress> ips = addresses(pod, meta.key());
        if (ips == null) {
            return null; // finished, or bad input (named in problems)
        }
        NamespaceSpec ns = namespaces.get(meta.namespace());
        boolean meshed = Enrolment.meshed(ns == null ? Map.of() : ns.labels(), meta.annotations(), false);
        if (ips.isEmpty() && !meshed) {
            return null; // no address yet, and nothing for the CNI plugin to hand over
        }
        String sa = blank(pod.serviceAccountName()) ? "default" : pod.serviceAccountName();
        Path netns = meshed && meta.uid() != null ? netnsByUid.get(meta.uid()) : null;
        Path cgroup = meshed && meta.uid() != null ? cgroupByUid.apply(meta.uid()) : null;
        return new PodSpec(meta.name(), meta.namespace(), sa, ips, node, meta.labels(), netns, meshed, meshed,
                List.of(), List.of(), List.of(), cgroup);
    }

    /**
     * A running pod's addresses (empty: none yet), or null when it has finished or an address is not an IP (named in
     * {@link #problems}).
     */
    private List<InetAddress> addresses(Pod pod, String key) {
        if ("Succeeded".equals(pod.phase()) || "Failed".equals(pod.phase())) {
            return null;
        }
        List<InetAddress> ips = new ArrayList<>();
        for (String text : pod.ips()) {
            InetAddress ip = ip(text);
            if (ip == null) {
                problems.add("pod " + key + ": status.podIPs: '" + text + "' is not an IP address: left out");
                return null;
            }
            if (!ips.contains(ip)) {
                ips.add(ip);
            }
        }
        return ips;
    }

    /** Other nodes' pods behind the endpoints of enrolled namespaces (see the class comment). */
    private List<PodSpec> remotePods(List<EndpointSlice> slices, Map<String, NamespaceSpec> namespaces,
            Set<String> local) {
        Map<String, RemotePod> byKey = new LinkedHashMap<>();
        for (EndpointSlice slice : slices) {
            if (!isIp(slice.addressType())) {
                continue;
            }
            for (Endpoint ep : slice.endpoints()) {
                TargetRef ref = ep.targetRef();
                if (ref == null || !"Pod".equals(ref.kind()) || blank(ref.name())) {
                    continue;
                }
                String namespace = blank(ref.namespace()) ? slice.meta().namespace() : ref.namespace();
                NamespaceSpec ns = namespaces.get(namespace);
                String nodeName = ep.nodeName() == null ? "" : ep.nodeName();
                String key = namespace + "/" + ref.name();
                if (ns == null || !ns.enrolled() || node.equals(nodeName) || local.contains(key)) {
                    continue; // not meshed, or this node's (its own pod object says more)
                }
                RemotePod pod = byKey.computeIfAbsent(key, k -> new RemotePod(ref.name(), namespace, nodeName));
                for (String text : ep.addresses()) {
                    InetAddress ip = ip(text);
                    if (ip != null) {
                        pod.ips.add(ip);
                    }
                }
            }
        }
        List<PodSpec> out = new ArrayList<>();
        for (RemotePod p : byKey.values()) {
            if (!p.ips.isEmpty()) {
                out.add(new PodSpec(p.name, p.namespace, "", List.copyOf(p.ips), p.node, Map.of(), null, true, false,
                        List.of(), List.of(), List.of()));
            }
        }
        return out;
    }

    private static final class RemotePod {
        final String name;
        final String namespace;
        final String node;
        final Set<InetAddress> ips = new LinkedHashSet<>();

        RemotePod(String name, String namespace, String node) {
            this.name = name;
            this.namespace = namespace;
            this.node = node;
        }
    }

    private List<ServiceSpec> services(List<Service> objects, List<EndpointSlice> slices,
            Map<InetAddress, String> podOwners) {
        Map<String, List<EndpointSlice>> slicesByService = new HashMap<>();
        for (EndpointSlice slice : slices) {
            Meta meta = slice.meta();
            String service = meta.labels().get(SERVICE_NAME_LABEL);
            if (service != null) {
                slicesByService.computeIfAbsent(meta.namespace() + "/" + service, k -> new ArrayList<>()).add(slice);
            }
        }
        Set<String> known = new HashSet<>();
        Map<String, String> addressOwners = new HashMap<>(); // "vip:port" -> service
        List<ServiceSpec> out = new ArrayList<>();
        for (Service svc : objects) {
            ServiceSpec spec = service(svc, slicesByService);
            if (spec == null) {
                continue;
            }
            known.add(spec.key());
            if (claimVips(spec, podOwners, addressOwners)) {
                out.add(spec);
            }
        }
        slicesByService.forEach((service, list) -> {
            if (!known.contains(service)) {
                list.forEach(s -> problems.add("EndpointSlice " + s.meta().namespace() + "/" + s.meta().name()
                        + ": service " + service + " does not exist: left out"));
            }
        });
        return out;
    }

    private ServiceSpec service(Service svc, Map<String, List<EndpointSlice>> slicesByService) {
        Meta meta = svc.meta();
        if (blank(meta.name()) || blank(meta.namespace())) {
            problems.add("a service without metadata.name or metadata.namespace: left out");
            return null;
        }
        String key = meta.key();
        if (!svc.hasSpec()) {
            problems.add("service " + key + ": no spec: left out");
            return null;
        }
        List<InetAddress> vips = new ArrayList<>();
        for (String text : svc.clusterIPs()) {
            if (blank(text) || "None".equals(text)) {
                continue; // headless
            }
            InetAddress vip = ip(text);
            if (vip == null) {
                problems.add("service " + key + ": spec.clusterIPs: '" + text + "' is not an IP address: left out");
                return null;
            }
            vips.add(vip);
        }
        List<ServiceSpec.Port> ports = new ArrayList<>();
        for (ServicePort p : svc.ports()) {
            if (p.protocol() != null && !"TCP".equals(p.protocol())) {
                continue; // the proxy relays TCP
            }
            String name = p.name() == null ? "" : p.name();
            if (!validPort(p.port())) {
                problems.add("service " + key + ": port " + (name.isEmpty() ? "" : name + " ") + p.port()
                        + " is not a TCP port (1-65535): left out");
                continue;
            }
            String target = p.targetPort() == null ? Integer.toString(p.port()) : p.targetPort();
            ports.add(new ServiceSpec.Port(name, p.port(), target));
        }
        List<ServiceSpec.Endpoint> endpoints = endpoints(key,
                slicesByService.getOrDefault(key, List.of()));
        return new ServiceSpec(meta.namespace(), meta.name(), vips, ports, endpoints);
    }

    /** The endpoints of a service's slices, each address once (ready if any slice says so). */
    private List<ServiceSpec.Endpoint> endpoints(String service, List<EndpointSlice> slices) {
        Map<InetAddress, ServiceSpec.Endpoint> byAddress = new LinkedHashMap<>();
        for (EndpointSlice slice : slices) {
            if (!isIp(slice.addressType())) {
                continue;
            }
            String sliceName = slice.meta().namespace() + "/" + slice.meta().name();
            Map<String, Integer> ports = new HashMap<>();
            for (SlicePort p : slice.ports()) {
                if (p.protocol() != null && !"TCP".equals(p.protocol()) || p.port() == null) {
                    continue;
                }
                if (!validPort(p.port())) {
                    problems.add("EndpointSlice " + sliceName + " of service " + service + ": port "
                            + p.port() + " is not a TCP port (1-65535): left out");
                    continue;
                }
                ports.put(p.name() == null ? "" : p.name(), p.port());
            }
            for (Endpoint ep : slice.endpoints()) {
                boolean ready = !Boolean.FALSE.equals(ep.ready());
                TargetRef ref = ep.targetRef();
                String pod = ref != null && "Pod".equals(ref.kind()) && !blank(ref.name())
                        ? (blank(ref.namespace()) ? slice.meta().namespace() : ref.namespace()) + "/" + ref.name()
                        : "";
                String nodeName = ep.nodeName() == null ? "" : ep.nodeName();
                for (String text : ep.addresses()) {
                    InetAddress ip = ip(text);
                    if (ip == null) {
                        problems.add("EndpointSlice " + sliceName + ": '" + text + "' is not an IP address: left out");
                        continue;
                    }
                    ServiceSpec.Endpoint earlier = byAddress.get(ip);
                    if (earlier == null || !earlier.ready() && ready) {
                        byAddress.put(ip, new ServiceSpec.Endpoint(ip, ready, pod, nodeName, ports));
                    }
                }
            }
        }
        return List.copyOf(byAddress.values());
    }

    /** Whether {@code spec}'s addresses are free (no pod's, no other service's on the same port); claims them if so. */
    private boolean claimVips(ServiceSpec spec, Map<InetAddress, String> podOwners, Map<String, String> owners) {
        List<String> wanted = new ArrayList<>();
        for (InetAddress vip : spec.vips()) {
            if (podOwners.containsKey(vip)) {
                problems.add("service " + spec.key() + ": " + vip.getHostAddress() + " is the address of pod "
                        + podOwners.get(vip) + ": left out");
                return false;
            }
            for (ServiceSpec.Port port : spec.ports()) {
                String at = vip.getHostAddress() + ":" + port.port();
                String owner = owners.get(at);
                if (owner != null || wanted.contains(at)) {
                    problems.add("service " + spec.key() + ": " + at + " is also a port of service "
                            + Objects.requireNonNullElse(owner, spec.key()) + ": left out");
                    return false;
                }
                wanted.add(at);
            }
        }
        wanted.forEach(at -> owners.put(at, spec.key()));
        return true;
    }

    /** Whether no other pod has one of {@code ips}; claims them for {@code key} if so. */
    private boolean claim(String key, List<InetAddress> ips, Map<InetAddress, String> owners) {
        for (InetAddress ip : ips) {
            String owner = owners.get(ip);
            if (owner != null) {
                problems.add("pod " + key + ": " + ip.getHostAddress() + " is also the address of pod " + owner
                        + ": left out");
                return false;
            }
        }
        ips.forEach(ip -> owners.put(ip, key));
        return true;
    }

    private static <T extends ApiObject> List<T> sorted(Collection<T> objects) {
        List<T> list = new ArrayList<>(objects);
        list.sort(Comparator.comparing((T o) -> Objects.toString(o.meta().namespace(), "") + "/"
                + Objects.toString(o.meta().name(), "")));
        return list;
    }

    private static InetAddress ip(String text) {
        try {
            return text == null ? null : HostPort.literal(text.strip());
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean isIp(String addressType) {
        return "IPv4".equals(addressType) || "IPv6".equals(addressType);
    }

    private static boolean validPort(Integer port) {
        return port != null && port >= 1 && port <= 65535;
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }
}
