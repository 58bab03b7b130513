package io.nodemesh.topology;

import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * A "node" for tests: a namespace holding a Linux bridge {@code br0}, to which pod namespaces are
 * attached by veth pairs. Nothing of it touches the host's own namespace.
 */
public final class Lan {

    private final Topology owner;
    private final Netns node;
    private int links;

    Lan(Topology owner, Netns node) {
        this.owner = owner;
        this.node = node;
    }

    /** The node namespace that holds the bridge. */
    public Netns node() {
        return node;
    }

    /**
     * Creates a pod namespace attached to the bridge, with {@code eth0} carrying the given
     * addresses in CIDR form (e.g. {@code 10.77.0.2/24}, {@code fd77::2/64}).
     */
    public synchronized Netns attach(String label, String ipv4Cidr, String... ipv6Cidr) {
        Netns pod = owner.namespace(label);
        String peer = "veth" + (links++);
        Topology.ip("-n", node.name(), "link", "add", peer, "type", "veth",
                "peer", "name", "eth0", "netns", pod.name());
        Topology.ip("-n", node.name(), "link", "set", peer, "master", "br0", "up");
        if (ipv4Cidr != null) {
            Topology.ip("-n", pod.name(), "addr", "add", ipv4Cidr, "dev", "eth0");
        }
        for (String v6 : ipv6Cidr) {
            Topology.ip("-n", pod.name(), "addr", "add", v6, "dev", "eth0", "nodad");
        }
        Topology.ip("-n", pod.name(), "link", "set", "eth0", "up");
        pod.addresses(host(ipv4Cidr), ipv6Cidr.length > 0 ? host(ipv6Cidr[0]) : null);
        return pod;
    }

    private static InetAddress host(String cidr) {
        if (cidr == null) {
            return null;
        }
        try {
            return InetAddress.getByName(cidr.substring(0, cidr.indexOf('/')));
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException("bad address " + cidr, e);
        }
    }
}
