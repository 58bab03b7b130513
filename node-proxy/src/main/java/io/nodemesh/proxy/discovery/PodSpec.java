package io.nodemesh.proxy.discovery;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One pod the proxy knows about: who it is, where it runs, where its network namespace lives and whether this proxy
 * captures it. Immutable; equal specs mean "unchanged" when a new snapshot is reconciled. Pods of other nodes are
 * kept too (for routing: a meshed destination is reached through the mesh), without a namespace and never captured.
 *
 * @param name pod name
 * @param namespace Kubernetes namespace
 * @param serviceAccount service account (its identity)
 * @param ips the pod's addresses
 * @param node the node it runs on ({@code ""} when the source does not say)
 * @param labels its labels (policies and service selectors select by them)
 * @param netns path of the pod's network namespace ({@code /var/run/netns/x} or {@code /proc/PID/ns/net}); null for
 *     a pod of another node, or one of this node whose namespace has not been found
 * @param meshed whether it is a mesh workload ({@link Enrolment}), on any node: connections to it go through the mesh
 * @param capture whether this proxy should capture it: meshed and on this node. Captured only with a {@code netns};
 *     without one the capture has failed (and says why)
 * @param exemptPorts outbound destination ports that are not captured
 * @param exemptInboundPorts inbound destination ports that are not captured
 * @param exemptCidrs outbound destination networks that are not captured, as {@code addr/prefix}
 * @param cgroup the pod's cgroup (v2) directory, where {@code capture: ebpf} attaches its programs; null when not
 *     known (the other capture modes do not need it)
 */
public record PodSpec(
        String name,
        String namespace,
        String serviceAccount,
        List<InetAddress> ips,
        String node,
        Map<String, String> labels,
        Path netns,
        boolean meshed,
        boolean capture,
        List<Integer> exemptPorts,
        List<Integer> exemptInboundPorts,
        List<String> exemptCidrs,
        Path cgroup) {

    public PodSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(serviceAccount, "serviceAccount");
        Objects.requireNonNull(node, "node");
        ips = List.copyOf(ips);
        labels = Map.copyOf(labels);
        exemptPorts = List.copyOf(exemptPorts);
        exemptInboundPorts = List.copyOf(exemptInboundPorts);
        exemptCidrs = List.copyOf(exemptCidrs);
        if (capture && !meshed) {
            throw new IllegalArgumentException("pod " + namespace + "/" + name + ": captured but not meshed");
        }
    }

    /** A pod whose cgroup is not known (only {@code capture: ebpf} needs it). */
    public PodSpec(String name, String namespace, String serviceAccount, List<InetAddress> ips, String node,
            Map<String, String> labels, Path netns, boolean meshed, boolean capture, List<Integer> exemptPorts,
            List<Integer> exemptInboundPorts, List<String> exemptCidrs) {
        this(name, namespace, serviceAccount, ips, node, labels, netns, meshed, capture, exemptPorts,
                exemptInboundPorts, exemptCidrs, null);
    }

    /** A captured pod of this node with default exemptions: what tests and the demo mostly need. */
    public static PodSpec local(String name, String namespace, String serviceAccount, List<InetAddress> ips,
            Path netns) {
        return new PodSpec(name, namespace, serviceAccount, ips, "", Map.of(), netns, true, true, List.of(), List.of(),
                List.of());
    }

    /** {@code namespace/name}, unique within a snapshot. */
    public String key() {
        return namespace + "/" + name;
    }

    /** The same pod with {@code addresses} instead of its own. */
    public PodSpec withIps(List<InetAddress> addresses) {
        return new PodSpec(name, namespace, serviceAccount, addresses, node, labels, netns, meshed, capture,
                exemptPorts, exemptInboundPorts, exemptCidrs, cgroup);
    }

    /** The same pod in the namespace the CNI plugin handed over (at {@code path}), with {@code addresses}. */
    public PodSpec handed(Path path, List<InetAddress> addresses) {
        return new PodSpec(name, namespace, serviceAccount, addresses, node, labels, path, meshed, capture,
                exemptPorts, exemptInboundPorts, exemptCidrs, cgroup);
    }

    /** The same pod, not captured (its sandbox is gone): still a mesh workload for routing. */
    public PodSpec uncaptured() {
        return new PodSpec(name, namespace, serviceAccount, ips, node, labels, null, meshed, false, exemptPorts,
                exemptInboundPorts, exemptCidrs, cgroup);
    }

    /** The same pod, captured or not, in the namespace found at {@code path}. */
    public PodSpec withNetns(Path path) {
        return new PodSpec(name, namespace, serviceAccount, ips, node, labels, path, meshed, capture, exemptPorts,
                exemptInboundPorts, exemptCidrs, cgroup);
    }
}
