package io.nodemesh.proxy.model;

import java.util.Objects;

/**
 * A workload as telemetry labels it.
 *
 * @param name the workload name (e.g. the Deployment's), not the pod's
 * @param namespace its Kubernetes namespace
 * @param serviceAccount its service account, from which the SPIFFE principal is derived
 */
public record WorkloadRef(String name, String namespace, String serviceAccount) {

    public WorkloadRef {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(serviceAccount, "serviceAccount");
    }
}
