package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.WorkloadRef;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Answers telemetry's "who is at this address" from the proxy's current mesh snapshot: a pod IP
 * is the pod's workload (standalone mode names workloads after their pods). Services are not
 * known until Kubernetes discovery lands, so {@link #serviceAt} answers null.
 */
public final class PodWorkloads implements WorkloadLookup {

    private final Supplier<MeshSnapshot> snapshot;

    /** Reads whatever snapshot {@code snapshot} returns at each call (never null). */
    public PodWorkloads(Supplier<MeshSnapshot> snapshot) {
        this.snapshot = Objects.requireNonNull(snapshot, "snapshot");
    }

    @Override
    public WorkloadRef workloadAt(InetAddress address) {
        MeshSnapshot config = snapshot.get();
        if (config == null) {
            return null;
        }
        Optional<PodSpec> pod = config.podByIp(address);
        return pod.map(p -> new WorkloadRef(p.name(), p.namespace(), p.serviceAccount())).orElse(null);
    }

    @Override
    public String serviceAt(InetSocketAddress destination) {
        return null;
    }
}
