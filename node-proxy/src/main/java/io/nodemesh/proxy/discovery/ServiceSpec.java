package io.nodemesh.proxy.discovery;

import java.net.InetAddress;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A Kubernetes service as the mesh routes it: its virtual addresses and ports, and its endpoints with the port each
 * service port reaches on them (named target ports already resolved by the source: from the EndpointSlices in a
 * cluster, from the pods' named ports in the standalone file).
 *
 * @param namespace the service's namespace
 * @param name its name
 * @param vips its cluster IPs (none for a headless service)
 * @param ports its TCP ports
 * @param endpoints its endpoints, ready or not
 */
public record ServiceSpec(String namespace, String name, List<InetAddress> vips, List<Port> ports,
        List<Endpoint> endpoints) {

    public ServiceSpec {
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(name, "name");
        vips = List.copyOf(vips);
        ports = List.copyOf(ports);
        endpoints = List.copyOf(endpoints);
    }

    /** {@code namespace/name}, unique within a snapshot. */
    public String key() {
        return namespace + "/" + name;
    }

    /** The endpoints that take new connections. */
    public long readyEndpoints() {
        return endpoints.stream().filter(Endpoint::ready).count();
    }

    /**
     * One port of a service.
     *
     * @param name the port's name ({@code ""} for a lone unnamed port); endpoints' ports are keyed by it
     * @param port the port on the service's addresses
     * @param targetPort what the service says it forwards to: a number or a container port's name (for display; the
     *     endpoints carry the resolved number)
     */
    public record Port(String name, int port, String targetPort) {
        public Port {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(targetPort, "targetPort");
            if (port < 1 || port > 65535) {
                throw new IllegalArgumentException("port " + port + " is not a TCP port (1-65535)");
            }
        }
    }

    /**
     * One endpoint of a service.
     *
     * @param address the endpoint's address (a pod's IP, usually)
     * @param ready whether it takes new connections
     * @param pod the pod behind it, {@code namespace/name}, or {@code ""}
     * @param node the node it runs on, or {@code ""}
     * @param ports the port on this endpoint for each service port, by the service port's name
     */
    public record Endpoint(InetAddress address, boolean ready, String pod, String node, Map<String, Integer> ports) {
        public Endpoint {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(pod, "pod");
            Objects.requireNonNull(node, "node");
            ports = Map.copyOf(ports);
        }
    }
}
