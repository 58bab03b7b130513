package io.nodemesh.proxy.readiness;

/**
 * Whether the proxy is ready to serve, as the readiness probe says it: not while it starts (until its first snapshot is
 * applied and the pods reconciled), ready while it serves, not again once it drains. Thread-safe: the control thread
 * moves it on, the probe's thread reads it.
 */
public final class Readiness {

    /** Where the proxy is in its life, as the probe sees it. */
    public enum State {
        /** The first snapshot is not applied yet, or the pods not yet reconciled to it. */
        STARTING,
        /** Serving. */
        READY,
        /** Stopping: the pods are being released and drained. */
        DRAINING
    }

    private volatile State state = State.STARTING;

    /** The first snapshot is applied and the pods reconciled. Does nothing once draining. */
    public synchronized void ready() {
        if (state == State.STARTING) {
            state = State.READY;
        }
    }

    /** The proxy stops: never ready again. */
    public synchronized void draining() {
        state = State.DRAINING;
    }

    public State state() {
        return state;
    }
}
