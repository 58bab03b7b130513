package io.nodemesh.proxy.discovery;

import java.util.Locale;
import java.util.Map;

/**
 * Whether a namespace's pods accept plaintext from outside the mesh, set by the namespace label
 * {@code nodemesh.io/peer-authentication}: {@code permissive} (the default, as in Istio: plaintext on the inbound
 * capture is accepted and authorized by address and port) or {@code strict} (plaintext is refused; only the mutual-TLS
 * tunnel reaches the pods). A value the proxy does not know counts as strict: a typo must not open a namespace that was
 * meant to be closed. The standalone file refuses such a value outright ({@link #parse}).
 */
public enum PeerAuthentication {
    PERMISSIVE,
    STRICT;

    /** The namespace label that sets the mode. */
    public static final String LABEL = "nodemesh.io/peer-authentication";

    /** The mode a namespace with {@code labels} is in; unknown values are {@link #STRICT} (fail closed). */
    public static PeerAuthentication of(Map<String, String> labels) {
        String value = labels.get(LABEL);
        if (value == null) {
            return PERMISSIVE;
        }
        PeerAuthentication mode = parse(value);
        return mode == null ? STRICT : mode;
    }

    /** {@code permissive} or {@code strict} (any case), else null. */
    public static PeerAuthentication parse(String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "permissive" -> PERMISSIVE;
            case "strict" -> STRICT;
            default -> null;
        };
    }

    /** The label value, lower case. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
