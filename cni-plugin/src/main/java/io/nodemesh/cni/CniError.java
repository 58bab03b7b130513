package io.nodemesh.cni;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A CNI call that fails: the error object the plugin prints on stdout ({@code cniVersion}, {@code code}, {@code msg},
 * {@code details}) before it exits non-zero. The codes below 100 are the spec's; 100 and up are nodemesh's own, or
 * the proxy's, passed on as it sent them.
 */
final class CniError extends Exception {

    static final int INCOMPATIBLE_VERSION = 1;
    static final int INVALID_ENVIRONMENT = 4;
    static final int IO_FAILURE = 5;
    static final int DECODE_FAILURE = 6;
    static final int INVALID_CONFIG = 7;
    static final int TRY_AGAIN_LATER = 11;
    static final int NOT_AVAILABLE = 50;
    /** The proxy answered something that is not a reply of the control protocol. */
    static final int BAD_REPLY = 100;
    /** The plugin failed in a way it did not foresee (a bug): the details say where. */
    static final int INTERNAL = 101;

    private final int code;
    private final String details;

    CniError(int code, String msg, String details) {
        super(msg);
        this.code = code;
        this.details = details;
    }

    int code() {
        return code;
    }

    String details() {
        return details;
    }

    /** The error object as the spec has it, in {@code cniVersion}. */
    Map<String, Object> toJson(String cniVersion) {
        Map<String, Object> error = new LinkedHashMap<>();
        error.put("cniVersion", cniVersion);
        error.put("code", (long) code);
        error.put("msg", getMessage());
        if (details != null && !details.isEmpty()) {
            error.put("details", details);
        }
        return error;
    }
}
