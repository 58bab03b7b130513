package io.nodemesh.proxy.config;

import io.nodemesh.proxy.transport.TransportKind;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * Node-wide proxy settings (the {@code proxy:} section of the standalone file). Immutable.
 *
 * @param mark packet mark on the proxy's own upstream sockets; the redirect rules exempt it
 * @param outboundPort outbound capture port inside each pod
 * @param inboundPort inbound plaintext capture port inside each pod
 * @param transport requested Netty transport
 * @param workers event-loop threads
 * @param connectTimeout limit on connecting upstream
 * @param idleTimeout a connection with no bytes either way for this long is closed
 * @param drainTimeout how long open connections may finish after their listener closed
 * @param rules who installs the redirect rules
 * @param admin address of the admin HTTP server (port 0: ephemeral)
 */
public record ProxySettings(
        int mark,
        int outboundPort,
        int inboundPort,
        TransportKind transport,
        int workers,
        Duration connectTimeout,
        Duration idleTimeout,
        Duration drainTimeout,
        RulesBackend rules,
        InetSocketAddress admin) {

    /** The default mark, 0x539 (1337). */
    public static final int DEFAULT_MARK = 0x539;

    public ProxySettings {
        Objects.requireNonNull(transport, "transport");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(drainTimeout, "drainTimeout");
        Objects.requireNonNull(rules, "rules");
        Objects.requireNonNull(admin, "admin");
    }

    /** Every default: mark 0x539, ports 15001/15006, epoll, one worker per core, 5 s / 1 h / 30 s, iptables, 127.0.0.1:15000. */
    public static ProxySettings defaults() {
        return new ProxySettings(DEFAULT_MARK, 15001, 15006, TransportKind.EPOLL,
                Runtime.getRuntime().availableProcessors(), Duration.ofSeconds(5), Duration.ofHours(1),
                Duration.ofSeconds(30), RulesBackend.IPTABLES, new InetSocketAddress("127.0.0.1", 15000));
    }

    /** Whether a pod's listeners and rules must be rebuilt when the settings change from {@code this} to {@code next}. */
    public boolean podsAffectedBy(ProxySettings next) {
        return mark != next.mark || outboundPort != next.outboundPort || inboundPort != next.inboundPort
                || rules != next.rules;
    }

    public ProxySettings withTransport(TransportKind value) {
        return new ProxySettings(mark, outboundPort, inboundPort, value, workers, connectTimeout, idleTimeout,
                drainTimeout, rules, admin);
    }

    public ProxySettings withWorkers(int value) {
        return new ProxySettings(mark, outboundPort, inboundPort, transport, value, connectTimeout, idleTimeout,
                drainTimeout, rules, admin);
    }

    public ProxySettings withAdmin(InetSocketAddress value) {
        return new ProxySettings(mark, outboundPort, inboundPort, transport, workers, connectTimeout, idleTimeout,
                drainTimeout, rules, value);
    }
}
