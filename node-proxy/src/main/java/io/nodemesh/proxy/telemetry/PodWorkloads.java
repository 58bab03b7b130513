package io.nodemesh.proxy.telemetry;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceTarget;
import io.nodemesh.proxy.model.WorkloadRef;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Answers telemetry's "who is at this address" from the proxy's current mesh snapshot: a pod IP is the pod's workload
 * (named after its pod), a service address and port is the service, named as Istio's {@code destination_service}
 * names it: {@code <name>.<namespace>.svc.cluster.local}. Runs on the telemetry thread, not on the data path.
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
        MeshSnapshot config = snapshot.get();
        ServiceTarget target = config == null ? null
                : config.serviceAt(destination.getAddress(), destination.getPort());
        return target == null ? null
                : target.service().name() + "." + target.service().namespace() + ".svc.cluster.local";
    }
}
