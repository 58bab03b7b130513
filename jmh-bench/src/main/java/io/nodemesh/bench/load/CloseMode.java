package io.nodemesh.bench.load;

/**
 * How a {@link ChurnClient} ends each connection. Whoever sends the first FIN keeps the connection
 * in TIME_WAIT for 60 s; a client that does so at thousands of connections/s from one IP runs out
 * of its ~28 000 ephemeral ports within seconds (connect fails with "Cannot assign requested
 * address", counted as {@code address-unavailable}) unless {@code net.ipv4.tcp_tw_reuse} lets it
 * reuse them (Linux allows that by default only on loopback).
 */
public enum CloseMode {
    /** Default: the request asks the server to close after responding; the client waits for the FIN, then closes. TIME_WAIT stays on the server, which accepts a new SYN on a TIME_WAIT 4-tuple. */
    SERVER_FIRST,
    /** The client closes first with FIN: TIME_WAIT on the client; may exhaust ports on long runs (what naive clients do). */
    CLIENT_FIRST,
    /** The client closes with RST (SO_LINGER 0): no TIME_WAIT anywhere, but proxies see resets, not clean closes. */
    RESET
}
