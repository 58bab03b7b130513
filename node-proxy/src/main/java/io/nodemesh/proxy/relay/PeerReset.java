package io.nodemesh.proxy.relay;

import java.io.IOException;

/**
 * The far side reset a channel that carries no errno: a tunnel stream ended by {@code RST_STREAM}. The relay treats it
 * as a TCP reset ({@link Outcomes#isReset}) and resets the other side in turn. Carries no stack trace: it is an
 * outcome, not a bug.
 */
public final class PeerReset extends IOException {

    /** The one instance: it carries nothing that differs between streams. */
    public static final PeerReset INSTANCE = new PeerReset();

    private PeerReset() {
        super("reset by peer (stream)");
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // an outcome, not a bug: no stack trace
    }
}
