package io.nodemesh.proxy.policy;

/** A policy the proxy refuses: a mistake, or a rule it cannot enforce at L4. The message names the field. */
public final class PolicyException extends Exception {

    public PolicyException(String message) {
        super(message);
    }
}
