package io.nodemesh.proxy.relay;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.Errors;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.FastThreadLocal;
import io.netty.util.concurrent.Future;
import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.Splice;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link Connection} relayed between two plain TCP sockets on its epoll event loop, below Netty's channel API: the
 * socket a capture listener accepted and the one the proxy opened in the pod's namespace. Netty's channels cost a
 * captured connection about 20 more system calls than a proxy needs (an {@code epoll_ctl} for each change of
 * interest, option reads and address lookups as each channel is made and closed) and their pipelines, promises and
 * configs on top (jmh-bench/RESULTS.md, churn); here each socket is one {@link EpollIoHandle} on the loop's
 * {@code EpollIoHandler}, registered once, edge-triggered, for reads, writes and the peer's FIN, and closed before its
 * registration is cancelled (the kernel's close takes it out of epoll). Tunnel streams, and the NIO and io_uring
 * transports, are relayed by {@link ChannelConnection}.
 *
 * <p>What it does is what {@link Relay} does for channels, with the same outcomes: bytes move as they come (a read
 * goes into one buffer per loop thread and out to the peer at once; what the peer does not take is copied aside to a
 * pooled buffer and the reading side waits for the peer's next write edge, so at most one read is held per
 * direction); a direction whose read fills that buffer is a bulk transfer and goes on through a pipe of its own,
 * spliced in the kernel from one socket to the other with no copy to user space ({@code splice(2)}; at most one
 * pipe's worth, 64 KiB, held per direction; off with {@code -Dnodemesh.relay.splice=false}); a FIN is passed on as a
 * half-close once everything before it is out, and the FIN that ends the second direction closes both; a reset is passed on as a reset, a peer that stopped answering as one too
 * ({@link Outcome#PEER_LOST}). A refused or timed-out connect resets the client. The idle timeout works as
 * {@link IdleTimeout}'s does. All state is touched on the loop only.
 */
public final class SocketConnection extends Connection {

    private static final Logger log = LoggerFactory.getLogger(SocketConnection.class);

    private static final EpollIoOps SOCKET_OPS = EpollIoOps.valueOf(EpollIoOps.EPOLLIN.value()
            | EpollIoOps.EPOLLOUT.value() | EpollIoOps.EPOLLRDHUP.value() | EpollIoOps.EPOLLET.value());
    /** epoll's EPOLLHUP (both directions shut, or a reset), which {@link EpollIoOps} names no constant for. */
    private static final int EPOLLHUP = 0x010;
    private static final int READABLE = EpollIoOps.EPOLLIN.value() | EpollIoOps.EPOLLRDHUP.value()
            | EpollIoOps.EPOLLERR.value() | EPOLLHUP;
    private static final int ENDED = EpollIoOps.EPOLLRDHUP.value() | EpollIoOps.EPOLLERR.value() | EPOLLHUP;
    /** The largest read, as Netty's adaptive reads go up to. */
    static final int READ_BUFFER = 64 * 1024;
    /**
     * Whether a bulk direction is spliced (the system property {@code nodemesh.relay.splice}, on unless
     * {@code false}).
     */
    private static final boolean SPLICE = !"false".equals(System.getProperty("nodemesh.relay.splice"));
    /** A pipe's capacity unless it is changed: Linux's default, 16 pages. */
    private static final int DEFAULT_PIPE = 64 * 1024;
    /**
     * A pipe's capacity, and the most one splice moves: {@link #DEFAULT_PIPE}, or the system property
     * {@code nodemesh.relay.splice.pipe} (bytes; a larger pipe moves more per call and holds more per direction).
     */
    private static final int SPLICE_CHUNK = Integer.getInteger("nodemesh.relay.splice.pipe", DEFAULT_PIPE);
    private static final FastThreadLocal<ReadBuffer> READS = new FastThreadLocal<>() {
        @Override
        protected ReadBuffer initialValue() {
            return new ReadBuffer(ByteBuffer.allocateDirect(READ_BUFFER));
        }
    };

    private final IoEventLoop loop;
    private final End downstream;
    private End upstream;
    private boolean connected;
    private boolean closed;
    /** A handover stopped its reads; only {@link #thaw} turns them on again. */
    private boolean frozen;
    private boolean movedAway;
    private Future<?> connectTimer;
    private Future<?> idleCheck;
    /** Set by every read and write, cleared by the idle check. */
    private boolean active;
    private int quietChecks;
    private Runnable onDownstreamClose;
    private List<Runnable> moreOnDownstreamClose;

    /** Tracks {@code accepted}, a socket a capture listener just accepted on {@code loop}, and tells the listener. */
    public SocketConnection(Direction direction, IoEventLoop loop, Socket accepted, ConnectionListener listener) {
        this(direction, loop, accepted, listener, System.currentTimeMillis());
    }

    private SocketConnection(Direction direction, IoEventLoop loop, Socket accepted, ConnectionListener listener,
                             long openedAtMillis) {
        super(direction, listener, openedAtMillis);
        this.loop = loop;
        this.downstream = new End(accepted, Side.DOWNSTREAM);
        announce();
    }

    /**
     * A relay another proxy handed over ({@code moved}), its two connected sockets now this process's: tracked with
     * its first proxy's start time, counters and path, its opening already reported there (telemetry counts it once,
     * when it ends here), and relaying at once. Call on {@code loop}; owns the sockets from the call on, also when it
     * throws.
     */
    public static SocketConnection resumed(MovedConnection moved, IoEventLoop loop, ConnectionListener listener,
                                           long idleMillis) {
        Socket down = new Socket(moved.downstreamFd());
        SocketConnection c = new SocketConnection(moved.direction(), loop, down, listener, moved.openedAtMillis());
        c.takeOver(moved);
        c.upstream = c.new End(new Socket(moved.upstreamFd()), Side.UPSTREAM);
        c.connected = true;
        listener.resumed(c);
        try {
            // Registered edge-triggered, each reports at once what is already waiting in it.
            c.downstream.register();
            c.upstream.register();
        } catch (IOException | RuntimeException e) {
            log.warn("{}: a handed-over relay could not be registered: {}", c, e.toString());
            c.fail(Outcome.ERROR);
            c.closeBoth();
            return c;
        }
        c.idleCheck(idleMillis);
        return c;
    }

    @Override
    public EventLoop loop() {
        return loop;
    }

    @Override
    public void whenDownstreamCloses(Runnable action) {
        if (closed) {
            action.run();
        } else if (onDownstreamClose == null) {
            onDownstreamClose = action;
        } else {
            if (moreOnDownstreamClose == null) {
                moreOnDownstreamClose = new ArrayList<>(2);
            }
            moreOnDownstreamClose.add(action);
        }
    }

    /** The connection from {@code source} had no original destination: it is closed and counted apart. */
    public void notRedirected(InetSocketAddress source, String reason) {
        notRedirectedFrom(source, reason);
        closeBoth();
    }

    /** Its way was refused ({@link Way.Refused}): the client is reset, the outcome {@link Outcome#DENIED}. */
    public void refuse(String reason) {
        log.debug("{}: refused: {}", this, reason);
        reset(Outcome.DENIED, null);
    }

    /**
     * Opens the upstream socket through {@code sockets} and connects it to {@code address}; reading starts on both
     * sides once it is connected. {@code idleMillis}: the idle timeout in force.
     */
    public void connect(UpstreamSockets sockets, InetSocketAddress address, long idleMillis) {
        Socket socket;
        try {
            socket = sockets.open(address);
        } catch (IOException | RuntimeException e) {
            log.debug("{}: no upstream socket: {}", this, e.toString());
            reset(Outcome.ERROR, null);
            return;
        }
        upstream = new End(socket, Side.UPSTREAM);
        try {
            connected = socket.connect(address);
            downstream.register();
            upstream.register();
        } catch (IOException e) {
            connectFailed(e);
            return;
        }
        if (!connected) {
            int timeoutMillis = sockets.connectTimeoutMillis();
            connectTimer = loop.schedule(() -> connectTimedOut(timeoutMillis), timeoutMillis, TimeUnit.MILLISECONDS);
        }
        idleCheck(idleMillis);
    }

    private void idleCheck(long idleMillis) {
        long checkNanos = Math.max(1, TimeUnit.MILLISECONDS.toNanos(idleMillis) / IdleTimeout.CHECKS);
        idleCheck = loop.scheduleAtFixedRate(this::idleLook, checkNanos, checkNanos, TimeUnit.NANOSECONDS);
    }

    private void connectTimedOut(int timeoutMillis) {
        if (!connected && !closed) {
            connectFailed(new ConnectTimeoutException("connection timed out after " + timeoutMillis + " ms: "
                    + destination()));
        }
    }

    private void connectFailed(Throwable cause) {
        Outcome outcome = Outcomes.ofConnectFailure(cause);
        log.debug("{}: upstream connect failed ({}): {}", this, outcome, cause.toString());
        reset(outcome, null);
    }

    private void idleLook() {
        if (closed) {
            cancelTimers();
        } else if (active) {
            active = false;
            quietChecks = 0;
        } else if (++quietChecks >= IdleTimeout.CHECKS) {
            close(Outcome.IDLE_TIMEOUT);
        }
    }

    /** Something happened on {@code end}'s socket. */
    private void ready(End end, EpollIoOps ops) {
        if (closed) {
            return;
        }
        int events = ops.value();
        if (!connected) {
            if (end == downstream && (events & (EpollIoOps.EPOLLERR.value() | EPOLLHUP)) != 0) {
                reset(Outcome.RESET, Side.DOWNSTREAM); // the client gave up while the upstream was connecting
                return;
            }
            // What arrives meanwhile waits in its socket; its edge is remembered, to be read once connected.
            end.readable |= (events & READABLE) != 0;
            end.ended |= (events & ENDED) != 0;
            if (end == upstream && (ops.contains(EpollIoOps.EPOLLOUT) || ops.contains(EpollIoOps.EPOLLERR))) {
                finishConnect();
            }
            return;
        }
        // Writing what waits for this socket and reading from it are the two directions: one may not stop the other.
        if ((end.pending != null || end.piped > 0) && ops.contains(EpollIoOps.EPOLLOUT)) {
            flush(end);
        }
        if (!closed && !frozen && (events & READABLE) != 0) {
            pump(end, (events & ENDED) != 0);
        }
    }

    private void finishConnect() {
        try {
            if (!upstream.socket.finishConnect()) {
                return;
            }
        } catch (IOException e) {
            connectFailed(e);
            return;
        }
        connected = true;
        if (connectTimer != null) {
            connectTimer.cancel(false);
            connectTimer = null;
        }
        // The edges that came while connecting (the client's data or FIN, the server's first bytes) are acted on now.
        if (downstream.readable) {
            pump(downstream, downstream.ended);
        }
        if (upstream.readable && !closed) {
            pump(upstream, upstream.ended);
        }
    }

    /**
     * Moves what {@code from} has to its peer, until it has nothing or the peer takes no more. A short read ends it
     * unless {@code untilEmpty}: the peer's FIN came with this edge (or may have while this side waited), so the read
     * that sees it must come now, no other edge announcing it.
     */
    private void pump(End from, boolean untilEmpty) {
        End to = peer(from);
        if (to.pipeIn >= 0) {
            splice(from, to);
            return;
        }
        ReadBuffer buffer = READS.get();
        while (!from.inputEnded && to.pending == null && !closed) {
            int n;
            try {
                n = from.socket.recvAddress(buffer.address, 0, READ_BUFFER);
            } catch (IOException e) {
                failed(from, e);
                return;
            }
            if (n == 0) {
                return; // EAGAIN: the next edge brings more
            }
            if (n < 0) {
                from.inputEnded = true;
                if (to.pending == null) {
                    shutOutput(to);
                }
                return;
            }
            active = true;
            if (from == downstream) {
                countFromSource(n);
            } else {
                countToSource(n);
            }
            int written;
            try {
                written = to.socket.sendAddress(buffer.address, 0, n);
            } catch (IOException e) {
                failed(to, e);
                return;
            }
            if (written < n) {
                ByteBuf rest = PooledByteBufAllocator.DEFAULT.directBuffer(n - written);
                rest.writeBytes(buffer.bytes.clear().limit(n).position(written));
                to.pending = rest;
                return; // from reads again once to has taken it (flush)
            }
            if (n < READ_BUFFER) {
                if (!untilEmpty) {
                    return; // a short read emptied the socket; the next bytes come with an edge of their own
                }
            } else if (SPLICE && to.openPipe()) {
                splice(from, to); // a full read: a bulk transfer, on through the kernel
                return;
            }
        }
    }

    /**
     * {@link #pump} for a bulk direction: from {@code from} into {@code to}'s pipe and on into {@code to}, one
     * pipe's worth at a time, until {@code from} has nothing (a splice may stop short of what the socket holds, when
     * the pipe's slots are full, so only EAGAIN says it is empty), its input ended, or {@code to} takes no more (the
     * rest stays in the pipe, and {@code from} is read again once {@link #flush} has emptied it).
     */
    private void splice(End from, End to) {
        int in = from.socket.intValue();
        while (!from.inputEnded && to.pending == null && to.piped == 0 && !closed) {
            long n = Splice.move(in, to.pipeIn, SPLICE_CHUNK);
            if (n == Splice.EAGAIN_NEGATIVE) {
                return; // the next edge brings more
            }
            if (n < 0) {
                failed(from, Errors.newIOException("splice", (int) n));
                return;
            }
            if (n == 0) {
                from.inputEnded = true;
                shutOutput(to);
                return;
            }
            active = true;
            to.piped = (int) n; // at most SPLICE_CHUNK
            if (from == downstream) {
                countFromSource(to.piped);
            } else {
                countToSource(to.piped);
            }
            if (!drainPipe(to)) {
                return;
            }
        }
    }

    /** Splices what waits in {@code to}'s pipe into {@code to}; whether all of it went. */
    private boolean drainPipe(End to) {
        int out = to.socket.intValue();
        while (to.piped > 0) {
            long n = Splice.move(to.pipeOut, out, to.piped);
            if (n == Splice.EAGAIN_NEGATIVE) {
                return false; // to's next write edge (flush)
            }
            if (n <= 0) {
                failed(to, Errors.newIOException("splice", n == 0 ? Errors.ERRNO_EPIPE_NEGATIVE : (int) n));
                return false;
            }
            to.piped -= (int) n;
            active = true;
        }
        return true;
    }

    /** Writes what waits for {@code to}; once all of it is out, its peer reads again, or its FIN follows. */
    private void flush(End to) {
        if (to.pending == null) {
            if (!drainPipe(to)) {
                return;
            }
            afterFlush(to);
            return;
        }
        ByteBuf pending = to.pending;
        int written;
        try {
            ByteBuffer out = pending.internalNioBuffer(pending.readerIndex(), pending.readableBytes());
            written = to.socket.send(out, out.position(), out.limit());
        } catch (IOException e) {
            failed(to, e);
            return;
        }
        pending.skipBytes(written);
        active = true;
        if (pending.isReadable()) {
            return;
        }
        pending.release();
        to.pending = null;
        afterFlush(to);
    }

    /** Everything read for {@code to} is out: its peer reads again, or its FIN follows. */
    private void afterFlush(End to) {
        End from = peer(to);
        if (from.inputEnded) {
            shutOutput(to);
        } else if (!frozen) {
            pump(from, true);
        }
    }

    /**
     * {@code to}'s peer sent FIN and everything before it is out: passes it on. When {@code to}'s peer had already
     * got the other direction's FIN, this is the last one and both sockets close (the close sends it): the same
     * packets as a half-close and two closes, one system call fewer.
     */
    private void shutOutput(End to) {
        to.outputShut = true;
        if (peer(to).outputShut) {
            closeBoth();
            return;
        }
        try {
            to.socket.shutdown(false, true);
        } catch (IOException alreadyGone) {
            // Its peer is gone already; what that means arrives as its own event.
        }
    }

    private void failed(End end, IOException cause) {
        Side side = end.side;
        if (Outcomes.isReset(cause)) {
            reset(Outcome.RESET, side);
        } else if (Outcomes.isPeerLost(cause)) {
            log.debug("{}: the {} side stopped answering", this, side);
            reset(Outcome.PEER_LOST, side);
        } else {
            log.debug("{}: {} side failed: {}", this, side, cause.toString());
            fail(Outcome.ERROR, side);
            closeBoth();
        }
    }

    /** Closes both sides with RST (SO_LINGER 0) so that neither peer waits on a connection that is gone. */
    private void reset(Outcome why, Side side) {
        fail(why, side);
        abort(downstream);
        if (upstream != null) {
            abort(upstream);
        }
        closeBoth();
    }

    private static void abort(End end) {
        try {
            end.socket.setSoLinger(0);
        } catch (IOException alreadyGone) {
            // a plain close is the best left to do
        }
    }

    @Override
    public void close(Outcome why) {
        if (!onLoop()) {
            loop.execute(() -> close(why));
            return;
        }
        fail(why);
        closeBoth();
    }

    private void closeBoth() {
        if (closed) {
            return;
        }
        closed = true;
        cancelTimers();
        downstream.close();
        if (upstream != null) {
            upstream.close();
        }
        Runnable first = onDownstreamClose;
        onDownstreamClose = null;
        if (first != null) {
            first.run();
        }
        if (moreOnDownstreamClose != null) {
            moreOnDownstreamClose.forEach(Runnable::run);
            moreOnDownstreamClose = null;
        }
        finished(movedAway);
    }

    private void cancelTimers() {
        if (connectTimer != null) {
            connectTimer.cancel(false);
            connectTimer = null;
        }
        if (idleCheck != null) {
            idleCheck.cancel(false);
            idleCheck = null;
        }
    }

    private End peer(End end) {
        return end == downstream ? upstream : downstream;
    }

    /**
     * Takes this relay out for the next proxy (docs/upgrade.md): stops reading both sides, waits up to
     * {@code limitMillis} until nothing read is still waiting to be written, then duplicates both descriptors and closes
     * its own (no FIN, no RST: the duplicates keep the sockets). Completes with null, reading on again, when it cannot
     * move: not connected, half-closed either way, ended, or still holding bytes at the limit.
     */
    @Override
    public CompletableFuture<MovedConnection> moveOut(String pod, long limitMillis) {
        CompletableFuture<MovedConnection> out = new CompletableFuture<>();
        loop.execute(() -> {
            if (!movable()) {
                out.complete(null);
                return;
            }
            frozen = true;
            awaitEmpty(pod, out, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(limitMillis));
        });
        return out;
    }

    private void awaitEmpty(String pod, CompletableFuture<MovedConnection> out, long deadlineNanos) {
        if (!movable()) {
            thaw(out);
        } else if (downstream.pending == null && upstream.pending == null && downstream.piped == 0
                && upstream.piped == 0) {
            takeOut(pod, out);
        } else if (System.nanoTime() - deadlineNanos > 0) {
            thaw(out);
        } else {
            loop.schedule(() -> awaitEmpty(pod, out, deadlineNanos), 1, TimeUnit.MILLISECONDS);
        }
    }

    private void thaw(CompletableFuture<MovedConnection> out) {
        frozen = false;
        out.complete(null);
        if (closed) {
            return;
        }
        // Edges that came while frozen were not acted on: read what is there now.
        pump(downstream, true);
        if (!closed) {
            pump(upstream, true);
        }
    }

    private void takeOut(String pod, CompletableFuture<MovedConnection> out) {
        int down;
        int up;
        try {
            down = Descriptors.duplicate(downstream.socket.intValue());
        } catch (IOException e) {
            thaw(out);
            return;
        }
        try {
            up = Descriptors.duplicate(upstream.socket.intValue());
        } catch (IOException e) {
            Descriptors.close(down);
            thaw(out);
            return;
        }
        movedAway = true;
        closeBoth();
        out.complete(new MovedConnection(pod, direction(), source(), destination(), path(), openedAtMillis(),
                bytesFromSource(), bytesToSource(), down, up));
    }

    /** Connected, relaying, open both ways, nothing failed, not closed: a connection that can move. */
    private boolean movable() {
        return connected && !closed && !movedAway && !failed() && destination() != null
                && !downstream.inputEnded && !downstream.outputShut && !upstream.inputEnded && !upstream.outputShut;
    }

    /** One socket of the connection, its registration on the loop and what waits to be written to it. */
    private final class End implements EpollIoHandle {
        final Socket socket;
        final Side side;
        IoRegistration registration;
        /** Read from the peer, not yet taken by this socket; null when nothing waits. */
        ByteBuf pending;
        /** The pipe the peer's bytes are spliced through to this socket, once that direction is bulk; -1 before. */
        int pipeIn = -1;
        int pipeOut = -1;
        /** Bytes in the pipe, not yet taken by this socket. */
        int piped;
        /** A pipe could not be made for this direction (out of descriptors): it stays on copies. */
        boolean noPipe;
        /** Before the upstream connected: an edge said there is something to read (and, with {@link #ended}, a FIN). */
        boolean readable;
        boolean ended;
        boolean inputEnded;
        boolean outputShut;

        End(Socket socket, Side side) {
            this.socket = socket;
            this.side = side;
        }

        void register() throws IOException {
            // On the loop the registration completes at once.
            Future<IoRegistration> registered = loop.register(this);
            if (!registered.isSuccess()) {
                throw new IOException("cannot register a socket with the event loop", registered.cause());
            }
            registration = registered.getNow();
            registration.submit(SOCKET_OPS);
        }

        /** Makes this direction's pipe; false if it cannot be made (the direction goes on copying). */
        boolean openPipe() {
            if (noPipe) {
                return false;
            }
            int[] pipe = null;
            try {
                pipe = Splice.pipe();
                if (SPLICE_CHUNK != DEFAULT_PIPE) {
                    Splice.resize(pipe[1], SPLICE_CHUNK);
                }
            } catch (IOException e) {
                if (pipe != null) {
                    Descriptors.close(pipe[0]);
                    Descriptors.close(pipe[1]);
                }
                noPipe = true;
                log.debug("{}: no pipe to splice the {} side's bytes through, copying them: {}", SocketConnection.this,
                        side, e.toString());
                return false;
            }
            pipeOut = pipe[0];
            pipeIn = pipe[1];
            return true;
        }

        @Override
        public FileDescriptor fd() {
            return socket;
        }

        @Override
        public void handle(IoRegistration reg, IoEvent event) {
            try {
                ready(this, ((EpollIoEvent) event).ops());
            } catch (RuntimeException e) {
                // Thrown out of here it would reach the loop's own handler, which pauses the whole loop for a second.
                log.warn("{}: relay failed", SocketConnection.this, e);
                fail(Outcome.ERROR, side);
                closeBoth();
            }
        }

        /**
         * Closes the socket and leaves the loop. Closed first, epoll has dropped it with the socket's last descriptor
         * (no EPOLL_CTL_DEL). A relay handed to the next proxy has duplicates of its descriptors, which keep the socket
         * and its epoll entry alive: its registration is cancelled first, while the descriptor is open, so that it is
         * taken out of this loop's epoll.
         */
        @Override
        public void close() {
            if (movedAway && registration != null) {
                registration.cancel();
                registration = null;
            }
            try {
                socket.close();
            } catch (IOException ignored) {
                // already closed
            }
            if (registration != null) {
                registration.cancel();
                registration = null;
            }
            if (pending != null) {
                pending.release();
                pending = null;
            }
            if (pipeIn >= 0) {
                Descriptors.close(pipeIn);
                Descriptors.close(pipeOut);
                pipeIn = -1;
                pipeOut = -1;
                piped = 0;
            }
        }
    }

    /** A loop thread's read buffer and its address. */
    private record ReadBuffer(ByteBuffer bytes, long address) {
        ReadBuffer(ByteBuffer bytes) {
            this(bytes, MemorySegment.ofBuffer(bytes).address());
        }
    }
}
