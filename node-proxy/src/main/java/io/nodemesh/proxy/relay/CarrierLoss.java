package io.nodemesh.proxy.relay;

import io.netty.channel.Channel;
import io.netty.util.AttributeKey;
import io.nodemesh.proxy.model.Outcome;

/**
 * Why a connection that carries streams (a tunnel connection) ended, for the streams it cut. A stream ends cleanly with
 * {@code END_STREAM} or is reset with {@code RST_STREAM}; when the connection under it goes away, it just closes, and
 * without this a relay would pass that on as a FIN: the app would read the end of its data where the data was cut. The
 * tunnel records the reason on the connection's channel (the first one wins) and {@link Relay} resets both ends of each
 * stream's connection with it.
 */
public final class CarrierLoss {

    private static final AttributeKey<Outcome> REASON = AttributeKey.valueOf("nodemesh.carrierLoss");

    private CarrierLoss() {
    }

    /** The connection {@code carrier} failed with {@code cause}: the peer lost, a reset, or another error. */
    public static void failed(Channel carrier, Throwable cause) {
        Outcome why = Outcomes.isPeerLost(cause) ? Outcome.PEER_LOST
                : Outcomes.isReset(cause) ? Outcome.RESET : Outcome.ERROR;
        carrier.attr(REASON).setIfAbsent(why);
    }

    /** The peer of {@code carrier} stopped answering (its liveness check gave up on it). */
    public static void unanswered(Channel carrier) {
        carrier.attr(REASON).setIfAbsent(Outcome.PEER_LOST);
    }

    /** What the streams {@code carrier} cut end with: its recorded reason, else a reset (it closed under them). */
    static Outcome of(Channel carrier) {
        Outcome why = carrier.attr(REASON).get();
        return why == null ? Outcome.RESET : why;
    }
}
