package io.nodemesh.proxy.model;

import java.util.Objects;

/**
 * A workload identity, {@code spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}: what a meshed
 * destination must prove (and, with the tunnel, what the proxy presents for a source).
 */
public record SpiffeId(String trustDomain, String namespace, String serviceAccount) {

    /** Kubernetes' and Istio's default trust domain. */
    public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";

    public SpiffeId {
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(serviceAccount, "serviceAccount");
    }

    /** The SPIFFE URI. */
    @Override
    public String toString() {
        return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
    }
}
