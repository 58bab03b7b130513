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
 *   <li>{@link #EBPF}: outbound TCP is sent to the proxy at {@code connect()}, before any packet exists: eBPF programs
 *       on the pod's cgroup (v2) rewrite the socket's destination to the outbound port on loopback and record the
 *       original one in a map the proxy reads ({@link ConnectCapture}). Inbound TCP is handed to the proxy's inbound
 *       listener by an {@code sk_lookup} program on the pod's network namespace ({@link LookupCapture}), pinned in a
 *       bpf filesystem. No netfilter hook is involved. Needs the pod's cgroup; nft backend only (which takes an
 *       earlier capture's rules out).</li>
 * </ul>
 */
public enum CaptureMode {
    REDIRECT,
    TPROXY,
    EBPF;

    /** The name in config files and on the command line: {@code redirect}, {@code tproxy} or {@code ebpf}. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code redirect}, {@code tproxy} or {@code ebpf}. */
    public static CaptureMode parse(String text) {
        for (CaptureMode mode : values()) {
            if (mode.configName().equals(text)) {
                return mode;
            }
        }
        throw new RulesException("capture: '" + text + "' is not one of redirect, tproxy, ebpf");
    }
}
