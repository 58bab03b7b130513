package io.nodemesh.proxy.discovery;

import java.util.Map;

/**
 * Who is in the mesh: the one rule both workload sources apply. A namespace is enrolled by the label
 * {@code nodemesh.io/capture=enabled}; a pod of an enrolled namespace opts out with the annotation
 * {@code nodemesh.io/capture=disabled}; a pod on the host's network is never captured (its traffic is the node's).
 */
public final class Enrolment {

    /** The namespace label that enrols a namespace, and the pod annotation that opts a pod out. */
    public static final String KEY = "nodemesh.io/capture";
    /** The label value that enrols a namespace. */
    public static final String ENABLED = "enabled";
    /** The annotation value that opts a pod out. */
    public static final String DISABLED = "disabled";

    private Enrolment() {
    }

    /** Whether a namespace with {@code labels} is enrolled. */
    public static boolean enrolled(Map<String, String> labels) {
        return ENABLED.equals(labels.get(KEY));
    }

    /**
     * Whether a pod is a mesh workload: its namespace is enrolled, it did not opt out, and it has its own network
     * namespace.
     */
    public static boolean meshed(Map<String, String> namespaceLabels, Map<String, String> podAnnotations,
            boolean hostNetwork) {
        return enrolled(namespaceLabels) && !DISABLED.equals(podAnnotations.get(KEY)) && !hostNetwork;
    }
}
