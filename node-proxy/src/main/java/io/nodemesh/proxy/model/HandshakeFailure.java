package io.nodemesh.proxy.model;

import java.util.Locale;

/**
 * Why a tunnel server refused a client's TLS handshake, classified from the exception's type (never its text): the
 * label of the node's handshake-failure counter, in {@code /stats}, the metrics and the proxy's log.
 */
public enum HandshakeFailure {
    /** The client presented no certificate. */
    NO_CLIENT_CERTIFICATE,
    /** The client's chain does not lead to the mesh CA. */
    UNTRUSTED_CA,
    /** The client's certificate has expired, or is not valid yet. */
    EXPIRED,
    /** The client's SPIFFE id is of another trust domain. */
    TRUST_DOMAIN,
    /** The client's certificate names no SPIFFE id, more than one, or a malformed one. */
    BAD_IDENTITY,
    /** The peer is not the workload this connection required (a client's check of its server). */
    UNEXPECTED_IDENTITY,
    /** The client did not speak TLS (plaintext or garbage on the tunnel port). */
    NOT_TLS,
    /** Anything else: a protocol mismatch, a client that went away mid-handshake, no certificate held here yet. */
    OTHER;

    /** The name in metrics, the admin API and the log: {@code untrusted_ca}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
