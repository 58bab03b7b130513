package io.nodemesh.proxy.relay;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.channel.socket.SocketChannelConfig;
import io.netty.channel.unix.Socket;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link Connection} relayed between Netty channels: the accepted (downstream) channel, or a tunnel stream, and the
 * upstream channel the proxy opened for it (a socket, or a stream on a pooled tunnel connection). Its state is mutated
 * only on the downstream channel's event loop; other threads only read the volatile fields for the admin API or ask for
 * a close through {@link #closeFromAnyThread}. A TCP upstream is registered on the same loop, so nothing hops; a tunnel
 * stream lives on its pooled connection's loop, which may be another, and what its side reports (a failure, a
 * half-close, its close) is handed over to the downstream's loop. Each byte counter has one writer: the side that
 * reads those bytes. Two plain sockets on epoll are relayed by a {@link SocketConnection} instead.
 */
public final class ChannelConnection extends Connection {

    private final Channel downstream;
    private volatile Channel upstream;
    private int openChannels = 1;
    private boolean downstreamOutputShut;
    private boolean upstreamOutputShut;

    /**
     * Tracks {@code downstream}, which was just accepted by a capture listener (or is a tunnel stream just accepted by a
     * tunnel server), and tells {@code listener} of it.
     */
    public ChannelConnection(Direction direction, Channel downstream, ConnectionListener listener) {
        this(direction, downstream, listener, System.currentTimeMillis());
    }

    private ChannelConnection(Direction direction, Channel downstream, ConnectionListener listener,
                              long openedAtMillis) {
        super(direction, listener, openedAtMillis);
        this.downstream = downstream;
        downstream.closeFuture().addListener(f -> channelClosed());
        announce();
    }

    public Channel downstream() {
        return downstream;
    }

    @Override
    public EventLoop loop() {
        return downstream.eventLoop();
    }

    @Override
    public void whenDownstreamCloses(Runnable action) {
        downstream.closeFuture().addListener(f -> action.run());
    }

    /** Records the original destination; from now on the connection counts as opened. */
    public void opened(InetSocketAddress originalDestination) {
        opened(inet(downstream.remoteAddress()), originalDestination);
    }

    /** The connection had no original destination: it is closed and counted apart, never reported. */
    public void notRedirected(String reason) {
        notRedirectedFrom(inet(downstream.remoteAddress()), reason);
        downstream.close();
    }

    /** The channel being connected upstream, so that a close reaches it even before it connects; see {@link Upstream}. */
    public void upstreamConnecting(Channel channel) {
        this.upstream = channel;
    }

    /**
     * The upstream channel connected; the connection is finished only when it has closed too. Call on the downstream's
     * loop (the relay's {@link UpstreamConnector} does, and so does the tunnel's server side, whose downstream is the
     * stream).
     */
    public void upstreamConnected(Channel channel) {
        this.upstream = channel;
        openChannels++;
        channel.closeFuture().addListener(f -> channelClosed());
    }

    /** One side's output was shut down after a half-close; closes both once both directions are done. */
    void outputShut(boolean downstreamSide) {
        if (!onLoop()) {
            loop().execute(() -> outputShut(downstreamSide));
            return;
        }
        if (downstreamSide) {
            downstreamOutputShut = true;
        } else {
            upstreamOutputShut = true;
        }
        Channel up = upstream;
        if (downstreamOutputShut && upstreamOutputShut) {
            downstream.close();
            if (up != null) {
                up.close();
            }
        } else if (up != null) {
            lastFinCloses(downstreamSide ? downstream : up, downstreamSide ? up : downstream);
        }
    }

    /**
     * {@code shut}'s output was just shut because {@code other}'s input ended, so the FIN still to come from
     * {@code shut}'s peer ends the connection both ways. When both are sockets, that FIN can close {@code shut} outright
     * ({@link Relay#channelInactive} then closes {@code other} once flushed, and its close sends the FIN): the same
     * packets as a half-close followed by two closes, with two system calls fewer per connection. Netty's half-close
     * of a socket whose peer's FIN answers ours fails with ENOTCONN, the socket being gone already, and builds a
     * {@code NotYetConnectedException} with its stack trace for it; this path builds none (RESULTS.md, churn). A
     * tunnel stream (not a {@link DuplexChannel}) keeps the half-close: its close would reset the stream, not end it.
     */
    private static void lastFinCloses(Channel shut, Channel other) {
        if (shut.config() instanceof SocketChannelConfig config && other instanceof DuplexChannel) {
            config.setAllowHalfClosure(false);
        }
    }

    /** Closes both sides with RST (SO_LINGER 0) so that neither peer waits on a connection that is gone. */
    void reset(Outcome why) {
        reset(why, null);
    }

    /** {@link #reset(Outcome)} for {@code side}'s failure. */
    void reset(Outcome why, Side side) {
        if (!onLoop()) {
            loop().execute(() -> reset(why, side));
            return;
        }
        fail(why, side);
        abort(downstream);
        Channel up = upstream;
        if (up != null) {
            abort(up);
        }
    }

    @Override
    public void close(Outcome why) {
        if (!onLoop()) {
            loop().execute(() -> close(why));
            return;
        }
        fail(why);
        downstream.close();
        Channel up = upstream;
        if (up != null) {
            up.close();
        }
    }

    /** Turns reading on for {@code ch} unless its input is already shut down (nothing left to read). */
    static void resumeReading(Channel ch) {
        if (ch instanceof DuplexChannel d && d.isInputShutdown()) {
            return;
        }
        ch.config().setAutoRead(true);
    }

    /** Closes {@code ch} once everything already written to it has been flushed. */
    static void closeOnFlush(Channel ch) {
        if (ch.isActive()) {
            ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        } else {
            ch.close();
        }
    }

    /** Sends FIN on {@code ch} once everything already written to it has been flushed. */
    void shutdownOutputOnFlush(Channel ch, boolean downstreamSide) {
        if (!ch.isActive()) {
            return;
        }
        ch.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(written -> {
            if (!written.isSuccess()) {
                close(Outcome.ERROR);
            } else if (ch instanceof Http2StreamChannel stream) {
                // A tunnel stream's FIN is an empty DATA frame that ends the stream.
                stream.writeAndFlush(new DefaultHttp2DataFrame(true)).addListener(shut -> outputShut(downstreamSide));
            } else if (ch instanceof EpollSocketChannel epoll && epoll.fd() instanceof Socket socket) {
                finOnEpoll(socket, downstreamSide);
            } else if (ch instanceof DuplexChannel duplex) {
                duplex.shutdownOutput().addListener(shut -> outputShut(downstreamSide));
            } else {
                ch.close();
            }
        });
    }

    /**
     * Sends FIN with {@code shutdown(2)} on the epoll socket itself. Netty's {@code shutdownOutput()} does the same call
     * but first builds a {@code ChannelOutputShutdownException}, stack trace and all, for every connection, to fail
     * writes still queued; here there are none (this runs once everything written has been flushed, and nothing is
     * written after the FIN). Under churn those stack traces were about 1.5 % of the proxy's CPU (RESULTS.md, churn).
     * {@link Socket#shutdown} records the shut output, so the channel's {@code isOutputShutdown()} says so as after
     * Netty's path; a socket already gone fails the call, and like a failed {@code shutdownOutput()} that only means
     * the close follows.
     */
    private void finOnEpoll(Socket socket, boolean downstreamSide) {
        try {
            socket.shutdown(false, true);
        } catch (IOException | RuntimeException alreadyGone) {
            // As with Netty's path, whose failure the listener ignored: the side counts as shut, the close follows.
        }
        outputShut(downstreamSide);
    }

    private static void abort(Channel ch) {
        if (ch.isOpen()) {
            try {
                ch.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (RuntimeException ignored) {
                // The socket may already be half gone; a plain close is the best left to do.
            }
            ch.close();
        }
    }

    private void channelClosed() {
        if (!onLoop()) {
            loop().execute(this::channelClosed);
            return;
        }
        if (--openChannels > 0) {
            return;
        }
        finished(false);
    }

    /**
     * A connection on channels does not move to the next proxy; it finishes here. A tunnel stream's bytes live in the
     * TLS session, and plain relays run on channels only on io_uring and NIO, which do not hand over (on epoll they
     * are {@link SocketConnection}s).
     */
    @Override
    public CompletableFuture<MovedConnection> moveOut(String pod, long limitMillis) {
        return CompletableFuture.completedFuture(null);
    }

    private static InetSocketAddress inet(SocketAddress a) {
        return a instanceof InetSocketAddress i ? i : new InetSocketAddress(0);
    }
}
