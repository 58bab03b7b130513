package io.nodemesh.proxy.config;

import java.time.Duration;
import java.util.Objects;

/**
 * TCP keepalive on the proxy's own sockets where a connection crosses the network (below). An application's
 * keepalive probes end at the proxy in its pod, so without its own the proxy would never learn that the far side
 * vanished without a FIN or RST (a node gone, a cable pulled, a NAT or load balancer that forgot the flow): the relay
 * would hold both sockets until the idle timeout. With it, the kernel probes a connection that has been silent for
 * {@code time}, every {@code interval}, and drops it after {@code probes} unanswered ones; the proxy then resets the
 * other side ({@code PEER_LOST}). The probes also keep middleboxes' state for quiet long-lived connections.
 *
 * <p>Only the sides that face the network probe: the inbound and tunnel listeners (the connections they accept inherit
 * it, no system call per connection) and the upstream sockets of plain outbound connections and tunnel connections
 * (four calls as each is made). The pod's own apps, on the outbound listener and at the end of an inbound connection,
 * cannot vanish without their kernel closing the socket. The kernel counts in whole seconds. Immutable.
 *
 * @param enabled false: no keepalive on the proxy's sockets (the kernel's default)
 * @param time silence before the first probe, 1 s to {@value #MAX_SECONDS} s
 * @param interval between probes, 1 s to {@value #MAX_SECONDS} s
 * @param probes unanswered probes before the connection is dropped, 1 to {@value #MAX_PROBES}
 */
public record TcpKeepalive(boolean enabled, Duration time, Duration interval, int probes) {

    /** The kernel's limit for {@code TCP_KEEPIDLE} and {@code TCP_KEEPINTVL}, in seconds. */
    public static final int MAX_SECONDS = 32767;
    /** The kernel's limit for {@code TCP_KEEPCNT}. */
    public static final int MAX_PROBES = 127;

    private static final TcpKeepalive DEFAULTS =
            new TcpKeepalive(true, Duration.ofMinutes(3), Duration.ofMinutes(3), 9);
    private static final TcpKeepalive OFF = new TcpKeepalive(false, DEFAULTS.time, DEFAULTS.interval, DEFAULTS.probes);

    public TcpKeepalive {
        Objects.requireNonNull(time, "time");
        Objects.requireNonNull(interval, "interval");
        String problem = secondsProblem(time);
        if (problem == null) {
            problem = secondsProblem(interval);
        }
        if (problem == null) {
            problem = probesProblem(probes);
        }
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
    }

    /**
     * On: 3 min of silence, then a probe every 3 min, dropped after 9 unanswered (30 min in all). The first probe
     * comes well within the 10 min after which common cloud load balancers and NATs forget a quiet flow; the same
     * timings as Istio's ztunnel.
     */
    public static TcpKeepalive defaults() {
        return DEFAULTS;
    }

    /** Off, with the default timings kept for display (one instance: the data path asks for it per connection). */
    public static TcpKeepalive off() {
        return OFF;
    }

    /** {@link #time} in seconds. */
    public int timeSeconds() {
        return (int) time.toSeconds();
    }

    /** {@link #interval} in seconds. */
    public int intervalSeconds() {
        return (int) interval.toSeconds();
    }

    /** How long a peer that stopped answering keeps a silent connection open: time + interval × probes. */
    public Duration deadPeerDropped() {
        return time.plus(interval.multipliedBy(probes));
    }

    /** Why {@code probes} cannot be a keepalive's count of probes, or null. */
    public static String probesProblem(int probes) {
        return probes < 1 || probes > MAX_PROBES ? probes + " is not between 1 and " + MAX_PROBES : null;
    }

    /** Why {@code d} cannot be a keepalive timing, or null. */
    public static String secondsProblem(Duration d) {
        if (d.isNegative() || d.isZero() || d.toNanosPart() != 0) {
            return "'" + DurationText.format(d) + "' is not a whole number of seconds (TCP keepalive counts seconds)";
        }
        if (d.toSeconds() > MAX_SECONDS) {
            return "'" + DurationText.format(d) + "' is longer than the kernel's " + MAX_SECONDS + " s";
        }
        return null;
    }
}
