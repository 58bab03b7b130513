package io.nodemesh.proxy.model;

/** Which capture listener accepted a connection. */
public enum Direction {
    /** Captured on the pod's outbound listener (:15001): the pod is the client. */
    OUTBOUND,
    /** Captured on the pod's inbound plaintext listener (:15006): the pod is the server. */
    INBOUND
}
