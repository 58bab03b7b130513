package io.nodemesh.bench.snapshot;

import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Pods and services for the snapshot benchmarks: pod {@code i} has address 10.(77 + i / 65536).(i / 256 % 256).(i %
 * 256), in 10 namespaces; service {@code s} has address 10.96.(s / 256).(s % 256), port 80 to the pods' 8080.
 */
public final class SyntheticPods {

    private SyntheticPods() {
    }

    /** Pod {@code i}'s address, as a new object each call (as a connection's address would be). */
    public static InetAddress address(int i) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {10, (byte) (77 + (i >> 16)), (byte) (i >> 8), (byte) (i & 0xff)});
    }

    /**
     * {@code count} pods as a cluster's view from one node: the first {@code local} are this node's (captured), the
     * rest other nodes' (meshed, no namespace), as the Kubernetes source keeps them. Namespace and service-account
     * strings are shared between pods, as a source that interns them shares them.
     */
    public static List<PodSpec> cluster(int count, int local) throws UnknownHostException {
        String[] namespaces = new String[10];
        for (int n = 0; n < namespaces.length; n++) {
            namespaces[n] = "ns-" + n;
        }
        List<PodSpec> specs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            String ns = namespaces[i % namespaces.length];
            boolean here = i < local;
            specs.add(new PodSpec("app-" + i, ns, ns, List.of(address(i)), here ? "node-0" : "node-" + (1 + i % 100),
                    Map.of(), here ? Path.of("/var/run/netns/pod-" + i) : null, true, here, List.of(), List.of(),
                    List.of()));
        }
        return specs;
    }

    /** Service {@code s}'s address. */
    public static InetAddress serviceAddress(int s) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {10, 96, (byte) (s >> 8), (byte) (s & 0xff)});
    }

    /**
     * {@code count} services over {@code pods}: service {@code s} has port 80 ({@code http}, to 8080) and the pods
     * {@code s, s + count, s + 2 count, …} as ready endpoints.
     */
    public static List<ServiceSpec> services(int count, List<PodSpec> pods) throws UnknownHostException {
        List<List<ServiceSpec.Endpoint>> endpoints = new ArrayList<>(count);
        for (int s = 0; s < count; s++) {
            endpoints.add(new ArrayList<>());
        }
        Map<String, Integer> http = Map.of("http", 8080);
        for (int i = 0; i < pods.size(); i++) {
            PodSpec pod = pods.get(i);
            endpoints.get(i % count).add(new ServiceSpec.Endpoint(pod.ips().getFirst(), true, pod.key(), pod.node(),
                    http));
        }
        List<ServiceSpec.Port> ports = List.of(new ServiceSpec.Port("http", 80, "8080"));
        List<ServiceSpec> out = new ArrayList<>(count);
        for (int s = 0; s < count; s++) {
            out.add(new ServiceSpec("ns-" + s % 10, "svc-" + s, List.of(serviceAddress(s)), ports, endpoints.get(s)));
        }
        return out;
    }

    /** {@code count} captured pods. */
    public static List<PodSpec> pods(int count) throws UnknownHostException {
        List<PodSpec> specs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            specs.add(PodSpec.local("app-" + i, "ns-" + (i % 10), "sa-" + i, List.of(address(i)),
                    Path.of("/var/run/netns/pod-" + i)));
        }
        return specs;
    }
}
