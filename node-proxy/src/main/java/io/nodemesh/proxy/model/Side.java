package io.nodemesh.proxy.model;

/**
 * A side of a relayed connection: the one that opened it (downstream: the app for outbound, the remote client for
 * inbound) or the one the proxy connected to (upstream). Says which side's failure ended a connection that was
 * established ({@link Outcome#RESET}, {@link Outcome#PEER_LOST}, {@link Outcome#ERROR}).
 */
public enum Side {
    DOWNSTREAM,
    UPSTREAM
}
