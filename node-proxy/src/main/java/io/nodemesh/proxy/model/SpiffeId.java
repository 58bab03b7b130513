package io.nodemesh.proxy.model;

import java.net.URI;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A workload identity, {@code spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}: what a meshed
 * destination must prove and what the proxy presents for a source (the URI SAN of its certificate).
 */
public record SpiffeId(String trustDomain, String namespace, String serviceAccount) {

    /** Kubernetes' and Istio's default trust domain. */
    public static final String DEFAULT_TRUST_DOMAIN = "cluster.local";

    private static final String SCHEME = "spiffe://";
    // The SPIFFE spec's trust-domain characters; a path segment here is a Kubernetes name (the spec allows more,
    // but an identity with anything else is none of ours).
    private static final Pattern TRUST_DOMAIN = Pattern.compile("[a-z0-9._-]+");
    private static final Pattern FORM = Pattern.compile("spiffe://([a-z0-9._-]+)/ns/([a-z0-9.-]+)/sa/([a-z0-9.-]+)");

    public SpiffeId {
        Objects.requireNonNull(trustDomain, "trustDomain");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(serviceAccount, "serviceAccount");
    }

    /**
     * Reads {@code spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>}, nothing else (no port, query,
     * fragment, upper case or further path).
     *
     * @throws IllegalArgumentException naming what is wrong with {@code text}
     */
    public static SpiffeId parse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a workload SPIFFE id (expected "
                    + SCHEME + "<trust-domain>/ns/<namespace>/sa/<service-account>)");
        }
        return new SpiffeId(m.group(1), m.group(2), m.group(3));
    }

    /**
     * Returns {@code trustDomain} if it is a SPIFFE trust domain name (lower-case letters, digits, '.', '-', '_').
     *
     * @throws IllegalArgumentException if it is not
     */
    public static String checkTrustDomain(String trustDomain) {
        if (!TRUST_DOMAIN.matcher(trustDomain).matches()) {
            throw new IllegalArgumentException("'" + trustDomain
                    + "' is not a trust domain (lower-case letters, digits, '.', '-' and '_')");
        }
        return trustDomain;
    }

    /** The SPIFFE URI, as it stands in a certificate's URI SAN. */
    public URI toUri() {
        return URI.create(toString());
    }

    /** The SPIFFE URI. */
    @Override
    public String toString() {
        return SCHEME + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
    }
}
