package io.nodemesh.proxy.discovery;

import java.util.Map;
import java.util.Objects;

/**
 * A Kubernetes namespace as the mesh sees it: its name and labels (enrolment is a label).
 *
 * @param name the namespace's name
 * @param labels its labels
 */
public record NamespaceSpec(String name, Map<String, String> labels) {

    public NamespaceSpec {
        Objects.requireNonNull(name, "name");
        labels = Map.copyOf(labels);
    }

    /** Whether the namespace carries the enrolment label ({@link Enrolment#enrolled}). */
    public boolean enrolled() {
        return Enrolment.enrolled(labels);
    }

    /** Whether its pods accept plaintext from outside the mesh ({@link PeerAuthentication#of}). */
    public PeerAuthentication peerAuthentication() {
        return PeerAuthentication.of(labels);
    }
}
