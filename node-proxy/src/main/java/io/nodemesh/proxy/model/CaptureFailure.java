package io.nodemesh.proxy.model;

import java.util.Locale;

/**
 * Why a pod's capture failed, classified where it fails (never from message text): the {@code reason} of a pod's
 * {@code failed} state and the label of the node's capture-failure counter.
 */
public enum CaptureFailure {
    /** The pod's network namespace is not known or its path does not exist. */
    NETNS_NOT_FOUND,
    /** The path exists but cannot be entered as a network namespace. */
    NETNS_UNUSABLE,
    /** A capture listener could not be opened inside the pod's namespace (port taken, say). */
    LISTEN_FAILED,
    /** The redirect rules could not be installed in the pod's namespace. */
    RULES_FAILED,
    /** Anything else: a bug, reported rather than lost. */
    INTERNAL;

    /** The name in metrics, the admin API and the CLI: {@code netns_not_found}. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
