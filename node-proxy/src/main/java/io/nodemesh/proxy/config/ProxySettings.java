package io.nodemesh.proxy.config;

import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.CaptureMode;
import java.time.Duration;
import java.util.Objects;

/**
 * How the proxy captures and relays, node-wide: part of every snapshot, so a change applies without a restart (the
 * {@code proxy:} section of the standalone file, less the {@link BootSettings}). Immutable.
 *
 * @param mark packet mark on the proxy's own upstream sockets; the redirect rules exempt it
 * @param outboundPort outbound capture port inside each pod
 * @param inboundPort inbound plaintext capture port inside each pod
 * @param connectTimeout limit on connecting upstream
 * @param idleTimeout a connection with no bytes either way for this long is closed (within a quarter of it more)
 * @param drainTimeout how long open connections may finish after their listener closed
 * @param rules who installs the redirect rules
 * @param capture how captured TCP reaches the listeners: nat REDIRECT (the original destination from connection
 *     tracking) or TPROXY (transparent listeners, no connection tracking; epoll and the nft rules, or none, only)
 * @param keepalive TCP keepalive on the proxy's sockets; a change applies to the pods' listeners and new upstream
 *     sockets without reopening anything (connections already accepted keep what they had)
 */
public record ProxySettings(
        int mark,
        int outboundPort,
        int inboundPort,
        Duration connectTimeout,
        Duration idleTimeout,
        Duration drainTimeout,
        RulesBackend rules,
        CaptureMode capture,
        TcpKeepalive keepalive) {

    /** The default mark, 0x539 (1337). */
    public static final int DEFAULT_MARK = 0x539;

    public ProxySettings {
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(drainTimeout, "drainTimeout");
        Objects.requireNonNull(rules, "rules");
        Objects.requireNonNull(capture, "capture");
        Objects.requireNonNull(keepalive, "keepalive");
    }

    /**
     * Every default: mark 0x539, ports 15001/15006, 5 s / 1 h / 30 s, nft (written over netlink, no process per pod),
     * capture by REDIRECT, {@link TcpKeepalive#defaults() keepalive} 3 min / 3 min / 9.
     */
    public static ProxySettings defaults() {
        return new ProxySettings(DEFAULT_MARK, 15001, 15006, Duration.ofSeconds(5), Duration.ofHours(1),
                Duration.ofSeconds(30), RulesBackend.NFT, CaptureMode.REDIRECT, TcpKeepalive.defaults());
    }

    /** The same settings with {@code mode} as the capture. */
    public ProxySettings withCapture(CaptureMode mode) {
        return new ProxySettings(mark, outboundPort, inboundPort, connectTimeout, idleTimeout, drainTimeout, rules,
                mode, keepalive);
    }

    /** Whether a pod's listeners and rules must be rebuilt when the settings change from {@code this} to {@code next}. */
    public boolean podsAffectedBy(ProxySettings next) {
        return mark != next.mark || outboundPort != next.outboundPort || inboundPort != next.inboundPort
                || rules != next.rules || capture != next.capture;
    }

    /**
     * Why the capture cannot go with these rules, or null: TPROXY rules come from the nft backend or from somebody
     * else ({@code rules: none}); the iptables backend installs REDIRECT rules only. An eBPF capture needs the nft
     * backend: the proxy attaches the programs itself, and reads the original destinations from their map.
     */
    public String captureRulesProblem() {
        if (capture == CaptureMode.TPROXY && rules == RulesBackend.IPTABLES) {
            return "tproxy needs rules nft or none; the iptables backend installs REDIRECT rules only";
        }
        if (capture == CaptureMode.EBPF && rules != RulesBackend.NFT) {
            return "ebpf needs rules nft: the proxy attaches the eBPF programs itself and reads the original "
                    + "destinations from their map";
        }
        return null;
    }

    /**
     * Why the capture cannot run on {@code transport}, or null: only the epoll transport's listeners are made
     * transparent and take the destination from the accepted socket's own address.
     */
    public String captureTransportProblem(TransportKind transport) {
        if (capture != CaptureMode.REDIRECT && transport != TransportKind.EPOLL) {
            return capture.configName() + " needs the epoll transport; the " + transport.configName()
                    + " transport's listeners cannot take " + capture.configName() + " connections";
        }
        return null;
    }
}
