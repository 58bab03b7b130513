package io.nodemesh.rules;

/**
 * An operator-facing failure of the capture rules: an invalid plan, a missing namespace, a refused
 * apply or a failing tool; the message names what was wrong and where.
 */
public final class RulesException extends RuntimeException {

    public RulesException(String message) {
        super(message);
    }

    public RulesException(String message, Throwable cause) {
        super(message, cause);
    }
}
