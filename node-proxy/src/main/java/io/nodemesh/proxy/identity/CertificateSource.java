package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.model.SpiffeId;
import java.time.Duration;

/**
 * Where the proxy's workload certificates come from: the mesh CA held in a Secret ({@link MeshCa}) to begin with, an
 * external CA (Istio's CSR API, SPIRE) later. {@link IdentityManager} calls it from its own thread, so an
 * implementation may block.
 */
public interface CertificateSource {

    /** The trust domain whose identities it issues. */
    String trustDomain();

    /**
     * A new key and a certificate for {@code id}, valid for {@code lifetime} from now or less (a CA caps it).
     *
     * @throws IdentityException if none can be issued (the message says why)
     */
    IssuedCertificate issue(SpiffeId id, Duration lifetime) throws IdentityException;
}
