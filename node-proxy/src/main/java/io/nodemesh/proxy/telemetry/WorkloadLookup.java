package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.model.WorkloadRef;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * What telemetry needs to know about the addresses of a connection, answered from the proxy's
 * current mesh snapshot. Called on the reporter thread, never on an event loop; must be fast
 * and must not block (a snapshot read).
 */
public interface WorkloadLookup {

    /** Knows nothing: peers are reported as "unknown". */
    WorkloadLookup NONE = new WorkloadLookup() {
        @Override
        public WorkloadRef workloadAt(InetAddress address) {
            return null;
        }

        @Override
        public String serviceAt(InetSocketAddress destination) {
            return null;
        }
    };

    /** The workload owning a pod IP, or null if the address is not a known pod. */
    WorkloadRef workloadAt(InetAddress address);

    /**
     * The service host name (e.g. {@code reviews.default.svc.cluster.local}) a destination
     * belongs to — a ClusterIP:port or an endpoint IP:port — or null if none.
     */
    String serviceAt(InetSocketAddress destination);
}
