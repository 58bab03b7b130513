package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.model.SpiffeId;
import java.math.BigInteger;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * A workload's key and certificate chain, with the trust anchors a peer's chain must lead to: everything
 * {@link MeshTls} needs to speak for {@code identity}. Immutable.
 *
 * @param identity whom the leaf names (its only URI SAN)
 * @param key the leaf's private key
 * @param chain the leaf first, then any intermediates (not the trust anchor: the peer has it)
 * @param trustAnchors the mesh CA certificates a peer's chain must validate to
 */
public record IssuedCertificate(SpiffeId identity, PrivateKey key, List<X509Certificate> chain,
        List<X509Certificate> trustAnchors) {

    public IssuedCertificate {
        Objects.requireNonNull(identity, "identity");
        Objects.requireNonNull(key, "key");
        chain = List.copyOf(chain);
        trustAnchors = List.copyOf(trustAnchors);
        if (chain.isEmpty() || trustAnchors.isEmpty()) {
            throw new IllegalArgumentException("a certificate chain and a trust anchor are required");
        }
    }

    /** The workload's own certificate. */
    public X509Certificate leaf() {
        return chain.getFirst();
    }

    public BigInteger serial() {
        return leaf().getSerialNumber();
    }

    public Instant notBefore() {
        return leaf().getNotBefore().toInstant();
    }

    public Instant notAfter() {
        return leaf().getNotAfter().toInstant();
    }

    /** Whether it is past its end at {@code now}. */
    public boolean expiredAt(Instant now) {
        return !now.isBefore(notAfter());
    }

    @Override
    public String toString() {
        return "IssuedCertificate[" + identity + ", serial " + serial().toString(16) + ", " + notBefore() + " .. "
                + notAfter() + "]";
    }
}
