package io.nodemesh.proxy.config;

import io.nodemesh.proxy.model.SpiffeId;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where the proxy's workload certificates come from: the standalone file's {@code proxy.identity} section, fixed at
 * start (part of {@link BootSettings}).
 *
 * @param caDir the mesh CA's directory ({@code ca-cert.pem}, {@code ca-key.pem}; in a cluster a mounted Secret), or
 *     null: no mesh CA, so no workload certificates and no mutual TLS
 * @param trustDomain the SPIFFE trust domain of the mesh's identities
 * @param certificateLifetime the lifetime asked for each workload certificate
 */
public record IdentitySettings(Path caDir, String trustDomain, Duration certificateLifetime) {

    public IdentitySettings {
        SpiffeId.checkTrustDomain(Objects.requireNonNull(trustDomain, "trustDomain"));
        Objects.requireNonNull(certificateLifetime, "certificateLifetime");
        if (certificateLifetime.isNegative() || certificateLifetime.isZero()) {
            throw new IllegalArgumentException("a certificate lifetime must be positive, not " + certificateLifetime);
        }
    }

    /** No CA, trust domain {@code cluster.local}, 24 h certificates. */
    public static IdentitySettings defaults() {
        return new IdentitySettings(null, SpiffeId.DEFAULT_TRUST_DOMAIN, Duration.ofHours(24));
    }
}
