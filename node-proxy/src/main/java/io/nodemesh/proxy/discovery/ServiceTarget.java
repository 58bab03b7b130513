package io.nodemesh.proxy.discovery;

import java.net.InetSocketAddress;
import java.util.List;

/**
 * What one service address and port leads to in a snapshot: the ready endpoints, each with its resolved address and
 * the pod behind it when the mesh knows the pod. Built with the snapshot so that the route decision only reads.
 *
 * @param service the service
 * @param port the service port that was addressed
 * @param backends the ready endpoints, in the service's order; empty when none is ready
 */
public record ServiceTarget(ServiceSpec service, ServiceSpec.Port port, Backend[] backends) {

    /**
     * One ready endpoint of a service port.
     *
     * @param address the endpoint's address and target port (prebuilt: the data path does not allocate it)
     * @param pod the pod at that address, or null when the mesh does not know it (then it is reached directly)
     */
    public record Backend(InetSocketAddress address, PodSpec pod) {
    }

    /** The backends as a list, for reports. */
    public List<Backend> backendList() {
        return List.of(backends);
    }
}
