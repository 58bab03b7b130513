package io.nodemesh.proxy.tunnel;

import io.nodemesh.proxy.model.Outcome;
import java.io.IOException;

/**
 * The far end of a tunnel answered a {@code CONNECT} with a status other than 200, or ended the stream before it
 * answered (status 0). The status says why, and so does the outcome the app's connection gets: 401 and 403 are a
 * denial, 503 is the destination refusing, anything else an error.
 */
public final class TunnelRefused extends IOException {

    private final int status;

    /** @param status the HTTP status the tunnel's server answered, 0 if it answered none */
    public TunnelRefused(int status) {
        super(status == 0 ? "tunnel stream ended before an answer" : "tunnel answered " + status);
        this.status = status;
    }

    /** The HTTP status the tunnel's server answered, 0 if none. */
    public int status() {
        return status;
    }

    /** What the app's connection reports for this refusal. */
    public Outcome outcome() {
        return switch (status) {
            case 401, 403 -> Outcome.DENIED;
            case 503 -> Outcome.REFUSED;
            default -> Outcome.ERROR;
        };
    }

    @Override
    public synchronized Throwable fillInStackTrace() {
        return this; // an outcome, not a bug: no stack trace
    }
}
