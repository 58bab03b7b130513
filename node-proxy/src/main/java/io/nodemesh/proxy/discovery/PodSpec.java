package io.nodemesh.proxy.discovery;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * One pod the proxy knows about: who it is, where its network namespace lives and what of its
 * traffic is captured. Immutable; equal specs mean "unchanged" when a new config is reconciled.
 *
 * @param name pod name
 * @param namespace Kubernetes namespace
 * @param serviceAccount service account (its identity)
 * @param ips the pod's addresses
 * @param netns path of the pod's network namespace ({@code /var/run/netns/x} or {@code /proc/PID/ns/net})
 * @param capture whether its traffic is captured; false: known to the mesh but left alone
 * @param exemptPorts outbound destination ports that are not captured
 * @param exemptInboundPorts inbound destination ports that are not captured
 * @param exemptCidrs outbound destination networks that are not captured, as {@code addr/prefix}
 */
public record PodSpec(
        String name,
        String namespace,
        String serviceAccount,
        List<InetAddress> ips,
        Path netns,
        boolean capture,
        List<Integer> exemptPorts,
        List<Integer> exemptInboundPorts,
        List<String> exemptCidrs) {

    public PodSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(serviceAccount, "serviceAccount");
        Objects.requireNonNull(netns, "netns");
        ips = List.copyOf(ips);
        exemptPorts = List.copyOf(exemptPorts);
        exemptInboundPorts = List.copyOf(exemptInboundPorts);
        exemptCidrs = List.copyOf(exemptCidrs);
    }

    /** {@code namespace/name}, unique within a config. */
    public String key() {
        return namespace + "/" + name;
    }
}
