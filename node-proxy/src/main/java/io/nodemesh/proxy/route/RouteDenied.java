package io.nodemesh.proxy.route;

/** The cause of an upstream connect that was refused by the route decision: the connection ends as DENIED. */
public final class RouteDenied extends Exception {

    /** @param reason why, for the log and the admin API */
    public RouteDenied(String reason) {
        super(reason, null, false, false); // a value, not a bug: no stack trace
    }
}
