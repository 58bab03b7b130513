package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.model.HandshakeFailure;
import java.security.cert.CertificateException;

/**
 * A TLS peer that is not the mesh workload it had to be, with why as a value: thrown by the trust manager (and by
 * {@link MeshTls#peerIdentity} for a peer without a certificate), found again in the handshake's cause chain by
 * {@link MeshTls#refusal}.
 */
public final class IdentityRejected extends CertificateException {

    private final HandshakeFailure reason;

    public IdentityRejected(HandshakeFailure reason, String message) {
        super(message);
        this.reason = reason;
    }

    public IdentityRejected(HandshakeFailure reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    /** Why the peer was refused. */
    public HandshakeFailure reason() {
        return reason;
    }
}
