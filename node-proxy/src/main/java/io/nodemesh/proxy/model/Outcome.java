package io.nodemesh.proxy.model;

/** How a connection ended, as telemetry, the admin API and logs report it. */
public enum Outcome {
    /** Both sides closed normally. */
    OK,
    /** The upstream refused the connection (RST on SYN). */
    REFUSED,
    /** Either side reset an established connection. */
    RESET,
    /** Connecting upstream took longer than the connect timeout. */
    CONNECT_TIMEOUT,
    /** No bytes moved either way for longer than the idle timeout. */
    IDLE_TIMEOUT,
    /** The route decision (later: policy) refused the connection. */
    DENIED,
    /** The proxy closed it because the drain deadline passed during shutdown or pod removal. */
    DRAINED,
    /**
     * One side stopped answering on an established connection (its TCP keepalive probes or retransmissions went
     * unanswered: ETIMEDOUT); the proxy reset the other side.
     */
    PEER_LOST,
    /** Any other I/O failure. */
    ERROR
}
