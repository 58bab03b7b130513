package io.nodemesh.proxy.relay;

import io.netty.channel.EventLoop;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * One captured connection as telemetry, the admin API, the drain and the handover see it: who opened it, where it was
 * going, how it crosses between the proxies, what was moved each way and how it ended. How its bytes are moved is the
 * subclass's: {@link ChannelConnection} between Netty channels (tunnel streams, and every transport),
 * {@link SocketConnection} between two plain sockets on the epoll loop, below Netty's channel API. Its state is mutated
 * only on its event loop ({@link #loop}); other threads read the volatile fields or ask through
 * {@link #closeFromAnyThread}. Each byte counter has one writer: the side that reads those bytes.
 */
public abstract class Connection {

    private final Direction direction;
    private final ConnectionListener listener;
    private final long openedAtMillis;
    private final long openedAtNanos;

    private volatile InetSocketAddress source;
    private volatile InetSocketAddress destination;
    private volatile ConnectionPath path;
    private volatile long bytesFromSource;
    private volatile long bytesToSource;
    private Outcome outcome;
    /** Whose failure set {@link #outcome}, where it was one side's; null otherwise. */
    private Side endedBy;
    private boolean reported;
    private volatile boolean openReported;

    /**
     * @param openedAtMillis when it was accepted: now, or by the proxy it was handed over from, so that its duration
     *        counts its whole life
     */
    protected Connection(Direction direction, ConnectionListener listener, long openedAtMillis) {
        this.direction = direction;
        this.listener = listener;
        this.openedAtMillis = openedAtMillis;
        this.openedAtNanos = System.nanoTime() - Math.max(0, System.currentTimeMillis() - openedAtMillis) * 1_000_000L;
    }

    /** Tells the listener of the connection; the subclass calls it once its own fields are set. */
    protected final void announce() {
        listener.accepted(this);
    }

    /**
     * Takes over what the proxy before this one knew of {@code moved}: its ends, path and counters, its opening
     * reported there (so that telemetry counts it once, when it ends here).
     */
    protected final void takeOver(MovedConnection moved) {
        source = moved.source();
        destination = moved.destination();
        path = moved.path();
        bytesFromSource = moved.bytesFromSource();
        bytesToSource = moved.bytesToSource();
        openReported = true;
    }

    protected final ConnectionListener listener() {
        return listener;
    }

    /** The event loop that owns this connection's state. */
    public abstract EventLoop loop();

    /** Runs {@code action} once, when the downstream side (the one the proxy accepted) has closed. */
    public abstract void whenDownstreamCloses(Runnable action);

    /** Closes both sides now (idle timeout, drain deadline, a tunnel stream refused) with {@code why}. Call on its loop. */
    public abstract void close(Outcome why);

    /**
     * Takes this relay out of the proxy for the next one (docs/upgrade.md). Completes with null when it cannot move;
     * it then finishes here.
     */
    public abstract CompletableFuture<MovedConnection> moveOut(String pod, long limitMillis);

    public Direction direction() {
        return direction;
    }

    /** The peer that opened the connection, once known. */
    public InetSocketAddress source() {
        return source;
    }

    /** The original destination, or null before it is known (or if the connection was not redirected). */
    public InetSocketAddress destination() {
        return destination;
    }

    /** How it crosses between the proxies and who its ends are, or null while its way is not chosen (or never was). */
    public ConnectionPath path() {
        return path;
    }

    /**
     * Records how the connection crosses between the proxies: once, when its upstream is chosen (outbound) or when it
     * arrives (inbound), so before it is reported opened where that is known by then.
     */
    public void path(ConnectionPath path) {
        this.path = path;
    }

    public long bytesFromSource() {
        return bytesFromSource;
    }

    public long bytesToSource() {
        return bytesToSource;
    }

    public long openedAtMillis() {
        return openedAtMillis;
    }

    /**
     * Records where the connection came from and where it was going; from now on it counts as opened. A tunnel
     * stream's source is its client, named by the tunnel's {@code forwarded} header.
     */
    public void opened(InetSocketAddress source, InetSocketAddress destination) {
        this.source = source;
        this.destination = destination;
        listener.opened(this);
    }

    /** Whether telemetry took this connection's opening (so its closing does not count it as opened again). */
    public boolean openReported() {
        return openReported;
    }

    /** Set by the listener when telemetry took the report of this connection's opening. */
    public void openReported(boolean taken) {
        this.openReported = taken;
    }

    /** The connection from {@code source} had no original destination: counted apart, never reported. */
    protected final void notRedirectedFrom(InetSocketAddress source, String reason) {
        this.source = source;
        listener.notRedirected(this, reason);
    }

    void countFromSource(int bytes) {
        bytesFromSource += bytes; // single writer: the event loop
    }

    void countToSource(int bytes) {
        bytesToSource += bytes;
    }

    /** Records why the connection ends; the first reason wins, later ones are consequences. */
    void fail(Outcome why) {
        fail(why, null);
    }

    /** {@link #fail(Outcome)}, and that it was {@code side}'s failure (null: no one side's). */
    void fail(Outcome why, Side side) {
        if (!onLoop()) {
            loop().execute(() -> fail(why, side));
            return;
        }
        if (outcome == null) {
            outcome = why;
            endedBy = side;
        }
    }

    /** Whether a failure was recorded: the connection is ending. */
    final boolean failed() {
        return outcome != null;
    }

    /** Whose failure ended the connection ({@link Side}), or null: it ended normally, or not by one side's failure. */
    public Side endedBy() {
        return endedBy;
    }

    /** Asks the event loop to close both sides with {@code why} (from the drain timer, for instance). */
    public void closeFromAnyThread(Outcome why) {
        loop().execute(() -> close(why));
    }

    /**
     * Both sides are closed: tells the listener how it ended, once, unless it was never redirected (nothing to report)
     * or it {@code movedAway} (the next proxy reports it, when it ends there). Call on its loop.
     */
    protected final void finished(boolean movedAway) {
        if (reported) {
            return;
        }
        reported = true;
        if (movedAway || destination == null) {
            return;
        }
        listener.closed(this, outcome == null ? Outcome.OK : outcome, System.nanoTime() - openedAtNanos);
    }

    /** Whether this thread may touch the connection's state; allocates nothing. */
    protected final boolean onLoop() {
        return loop().inEventLoop();
    }

    @Override
    public String toString() {
        return direction + " " + source + " -> " + destination;
    }
}
