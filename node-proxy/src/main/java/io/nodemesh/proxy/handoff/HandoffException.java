package io.nodemesh.proxy.handoff;

/** A control-socket request the proxy refuses; the message goes back to the plugin as the CNI error's text. */
public final class HandoffException extends Exception {

    private final int code;

    /** A request that does not validate: CNI error 110 (the proxy's own codes start at 110). */
    public HandoffException(String message) {
        this(message, 110);
    }

    /**
     * @param code the CNI error code the plugin reports (11: try again later)
     */
    public HandoffException(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The CNI error code the plugin reports. */
    public int code() {
        return code;
    }
}
