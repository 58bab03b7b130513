package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.model.SpiffeId;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/** Where the tunnel gets the TLS of a workload's certificate: {@link IdentityManager} in the proxy. */
public interface WorkloadCertificates {

    /** The TLS of {@code id}'s certificate if one valid now is held, else null. Never blocks, allocates nothing. */
    MeshTls current(SpiffeId id);

    /**
     * Completes with {@code id}'s TLS as soon as a valid certificate is held (at once if one is); fails with an
     * {@link IdentityException} when {@code id} has no certificate to wait for.
     */
    CompletableFuture<MeshTls> ready(SpiffeId id);

    /** Fixed certificates, for tests and benchmarks: an identity not in {@code held} has none and never will. */
    static WorkloadCertificates held(Map<SpiffeId, MeshTls> held) {
        Map<SpiffeId, MeshTls> copy = Map.copyOf(held);
        return new WorkloadCertificates() {
            @Override
            public MeshTls current(SpiffeId id) {
                return copy.get(id);
            }

            @Override
            public CompletableFuture<MeshTls> ready(SpiffeId id) {
                MeshTls tls = copy.get(id);
                return tls != null ? CompletableFuture.completedFuture(tls)
                        : CompletableFuture.failedFuture(new IdentityException("no certificate for " + id));
            }
        };
    }
}
