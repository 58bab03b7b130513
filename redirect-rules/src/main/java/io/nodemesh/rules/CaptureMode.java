package io.nodemesh.rules;

import java.util.Locale;

/**
 * How a pod's TCP reaches the proxy's capture listeners.
 *
 * <ul>
 *   <li>{@link #REDIRECT}: nat rules rewrite the destination to the capture port; the proxy reads the original
 *       destination back from connection tracking ({@code SO_ORIGINAL_DST}). Every packet of a captured connection is
 *       tracked and translated.</li>
 *   <li>{@link #TPROXY}: nothing is rewritten. Outbound packets are marked ({@link RedirectPlan#tproxyMark()}), a
 *       policy route ({@link RedirectPlan#routeTable()}) delivers marked packets locally through {@code lo}, and nft's
 *       {@code tproxy} hands them, like inbound ones, to the capture listeners, which are {@code IP_TRANSPARENT}: an
 *       accepted socket's own local address is the original destination. Nothing needs connection tracking. nft
 *       backend only.</li>
 * </ul>
 */
public enum CaptureMode {
    REDIRECT,
    TPROXY;

    /** The name in config files and on the command line: {@code redirect} or {@code tproxy}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code redirect} or {@code tproxy}. */
    public static CaptureMode parse(String text) {
        for (CaptureMode mode : values()) {
            if (mode.configName().equals(text)) {
                return mode;
            }
        }
        throw new RulesException("capture: '" + text + "' is not one of redirect, tproxy");
    }
}
