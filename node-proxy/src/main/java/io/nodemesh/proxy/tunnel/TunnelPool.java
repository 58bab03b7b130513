package io.nodemesh.proxy.tunnel;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http2.Http2GoAwayFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2SettingsFrame;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.relay.CarrierLoss;
import io.nodemesh.proxy.stats.TunnelStats;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of the tunnel for one pod: pooled HTTP/2 connections to the destinations' tunnel servers, one
 * {@code CONNECT} stream per app connection. Connections are shared per {@link TunnelKey}; one carries at most
 * {@link TunnelSettings#maxStreamsPerConnection()} streams, lowered to the server's
 * {@code SETTINGS_MAX_CONCURRENT_STREAMS}, and a stream that finds every connection full opens the next one. A burst of
 * first streams to a key makes one connection: they wait for it instead of each dialling. A connection that carried no
 * stream for the idle release is closed; one whose peer stops answering PINGs is closed by {@link Liveness}; one that
 * presents a certificate renewed since ({@link TunnelSecurity#current}) takes no new stream and closes after its last.
 *
 * <p>Thread-safe: app connections on any event loop open streams; a new connection runs on the loop of the stream
 * that asked for it, and its streams run there too (the relay hands work across, see {@code relay.Connection}). The
 * pool's bookkeeping is under one lock held for a few field updates, never across I/O.
 */
public final class TunnelPool implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(TunnelPool.class);

    private final TunnelSettings settings;
    private final TunnelSecurity security;
    private final Supplier<Bootstrap> bootstrap;
    private final TunnelStats stats;
    private final Map<TunnelKey, List<Pooled>> pools = new HashMap<>(); // guarded by this
    private boolean closed; // guarded by this

    /**
     * @param settings limits, windows and timers
     * @param security what secures each connection (mutual TLS in the mesh)
     * @param bootstrap a fresh bootstrap per connection, configured for the pod: channel factory (its network namespace,
     *         the bypass mark) and options; the pool sets the event loop, the handler and the connect timeout
     * @param stats where its connections, their failures and its streams are counted
     */
    public TunnelPool(TunnelSettings settings, TunnelSecurity security, Supplier<Bootstrap> bootstrap,
            TunnelStats stats) {
        this.settings = settings;
        this.security = security;
        this.bootstrap = bootstrap;
        this.stats = stats;
    }

    /**
     * Opens a stream to {@code key}'s destination for one app connection. The future, notified on {@code loop}, gives
     * the stream once the server answered 200: reading off, with {@code relay} last in its pipeline (after the handler
     * that turns frames into bytes); it fails with {@link TunnelRefused} for another answer, or with why the
     * connection could not be made ({@link ConnectTimeoutException}, a refused connect, a failed handshake).
     *
     * @param client the app's client, sent as {@code forwarded: for=}
     */
    public Future<Http2StreamChannel> openStream(TunnelKey key, InetSocketAddress client, EventLoop loop,
                                                 ChannelHandler relay) {
        Request request = new Request(key, client, loop, relay, loop.newPromise());
        dispatch(request);
        return request.result;
    }

    /** Connections open or being opened, over all keys. */
    public synchronized int connectionCount() {
        int n = 0;
        for (List<Pooled> list : pools.values()) {
            n += list.size();
        }
        return n;
    }

    /**
     * Takes no new stream: later opens fail, each connection that is up closes after its last stream (one still coming
     * up serves the streams waiting for it first). {@link #close} ends whatever is left.
     */
    public void drain() {
        List<Pooled> up = new ArrayList<>();
        synchronized (this) {
            closed = true;
            for (List<Pooled> list : pools.values()) {
                for (Pooled p : list) {
                    if (p.ready && !p.gone) {
                        p.gone = true; // stays listed, so close() still finds it
                        up.add(p);
                    }
                }
            }
        }
        up.forEach(Pooled::closeIfUnused);
    }

    /** Closes every connection (their streams end with them); later opens fail. */
    @Override
    public void close() {
        List<Pooled> all = new ArrayList<>();
        synchronized (this) {
            closed = true;
            pools.values().forEach(all::addAll);
            pools.clear();
        }
        for (Pooled p : all) {
            p.close();
        }
    }

    private void dispatch(Request request) {
        Pooled chosen = null;
        List<Pooled> retired = null;
        boolean dial = false;
        boolean openNow = false;
        synchronized (this) {
            if (closed) {
                request.result.tryFailure(new ClosedChannelException());
                return;
            }
            List<Pooled> list = pools.computeIfAbsent(request.key, k -> new ArrayList<>(1));
            for (Iterator<Pooled> it = list.iterator(); it.hasNext(); ) {
                Pooled p = it.next();
                if (p.outdated()) {
                    it.remove(); // its streams finish on it; it closes after the last
                    retired = retired == null ? new ArrayList<>(1) : retired;
                    retired.add(p);
                } else if (p.tryReserve()) {
                    chosen = p;
                    break;
                }
            }
            if (chosen == null) {
                chosen = new Pooled(request.key);
                list.add(chosen);
                chosen.tryReserve();
                dial = true;
            }
            if (chosen.ready) {
                openNow = true;
            } else {
                chosen.waiting.add(request);
            }
        }
        if (retired != null) {
            retired.forEach(Pooled::closeIfUnused);
        }
        if (dial) {
            chosen.dial(request.loop);
        }
        if (openNow) {
            chosen.open(request);
        }
    }

    /** One app connection's wish for a stream, until it has one. */
    private record Request(TunnelKey key, InetSocketAddress client, EventLoop loop, ChannelHandler relay,
                           Promise<Http2StreamChannel> result) {
    }

    /** One pooled connection and its bookkeeping (fields guarded by the pool's lock unless said otherwise). */
    private final class Pooled extends ChannelInboundHandlerAdapter {

        private final TunnelKey key;
        private final List<Request> waiting = new ArrayList<>();
        private int capacity = settings.maxStreamsPerConnection();
        private int reserved;
        private boolean ready;
        private boolean gone;
        private long idleGeneration;
        private volatile Channel channel;
        // The connection's own loop only:
        private boolean secured;
        private boolean settingsSeen;
        private long dialedAt;
        private long securedAt;

        Pooled(TunnelKey key) {
            this.key = key;
        }

        /** Takes one stream's place on this connection if it has one. Under the pool's lock. */
        boolean tryReserve() {
            if (gone || reserved >= capacity) {
                return false;
            }
            reserved++;
            idleGeneration++; // an idle release already scheduled no longer applies
            return true;
        }

        /**
         * Whether this connection no longer presents what a new one would (its source's certificate was renewed since
         * it was made): it then takes no new stream and is marked gone. Under the pool's lock.
         */
        boolean outdated() {
            if (!ready || gone || security.current(channel, key)) {
                return false;
            }
            gone = true;
            log.debug("tunnel to {}: {}'s certificate was renewed; new streams go on a new connection",
                    key.destinationAddress(), key.sourceIdentity());
            return true;
        }

        /** Closes a connection that left the pool once it carries no stream; one that does closes after its last. */
        void closeIfUnused() {
            synchronized (TunnelPool.this) {
                if (reserved > 0) {
                    return;
                }
            }
            channel.close();
        }

        void dial(EventLoop loop) {
            dialedAt = System.nanoTime();
            InetSocketAddress remote = new InetSocketAddress(key.destinationAddress().getAddress(), settings.port());
            int timeoutMillis = (int) settings.connectTimeout().toMillis();
            ChannelFuture connect = bootstrap.get()
                    .group(loop)
                    .option(ChannelOption.AUTO_READ, true)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutMillis)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            secure(ch);
                        }
                    })
                    .connect(remote);
            channel = connect.channel();
            connect.addListener(f -> {
                if (!f.isSuccess()) {
                    failed(f.cause());
                }
            });
            // TCP, handshake and the server's SETTINGS, all within the connect timeout.
            loop.schedule(() -> {
                if (!settingsSeen) {
                    failed(new ConnectTimeoutException("tunnel to " + remote + " not up within " + timeoutMillis + " ms"));
                }
            }, timeoutMillis, TimeUnit.MILLISECONDS);
        }

        private void secure(Channel ch) {
            // Known before anything can happen on it: the dialing thread's own assignment (after connect() returns)
            // may come after the server's SETTINGS, which open the waiting streams on this channel.
            channel = ch;
            Future<SpiffeId> handshake = security.secureClient(ch, key);
            ch.pipeline().addLast("pool", this);
            // HTTP/2 only once the server is proven: nothing is written to a server that fails the handshake.
            handshake.addListener(f -> {
                if (!f.isSuccess()) {
                    failed(f.cause());
                    return;
                }
                // The identity the server's certificate proved, for every stream's connection.
                TunnelPath.established(ch, security, key.sourceIdentity(), handshake.getNow());
                ch.pipeline()
                        .addBefore("pool", "flushes", TunnelCodec.flushes())
                        .addBefore("pool", "liveness", new Liveness(settings.pingInterval(), settings.pingTimeout()))
                        .addBefore("pool", "http2", TunnelCodec.client(settings))
                        .addBefore("pool", "streams", new Http2MultiplexHandler(RefuseServerStreams.INSTANCE))
                        .addBefore("pool", "window", new TunnelCodec.ConnectionWindow(settings.connectionWindow()));
                secured = true;
                securedAt = System.nanoTime();
                upIfReady();
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof Http2SettingsFrame s && !settingsSeen) {
                settingsSeen = true;
                Long serverMax = s.settings().maxConcurrentStreams();
                synchronized (TunnelPool.this) {
                    if (serverMax != null && serverMax < capacity) {
                        capacity = (int) Math.max(1, serverMax);
                    }
                }
                upIfReady();
            } else if (msg instanceof Http2GoAwayFrame) {
                synchronized (TunnelPool.this) {
                    gone = true; // the server takes no new stream here; those open finish
                    remove();
                }
                ReferenceCountUtil.release(msg);
                closeIfUnused();
                return;
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            failed(new ClosedChannelException());
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            log.debug("tunnel to {}: {}", key.destinationAddress(), cause.toString());
            CarrierLoss.failed(ctx.channel(), cause);
            failed(cause);
            ctx.close();
        }

        /** On the connection's loop: once secured and the server's SETTINGS are in, the waiting streams go out. */
        private void upIfReady() {
            if (!secured || !settingsSeen) {
                return;
            }
            List<Request> open;
            List<Request> elsewhere = List.of();
            synchronized (TunnelPool.this) {
                if (gone) {
                    return;
                }
                ready = true;
                stats.connected();
                open = new ArrayList<>(waiting);
                waiting.clear();
                if (open.size() > capacity) {
                    // The server allows fewer streams than were waiting: the rest look for room again.
                    elsewhere = new ArrayList<>(open.subList(capacity, open.size()));
                    open = new ArrayList<>(open.subList(0, capacity));
                    reserved = capacity;
                }
            }
            if (log.isDebugEnabled()) {
                log.debug("tunnel to {}: up in {} ms (secured after {} ms), {} stream(s) waiting",
                        key.destinationAddress(), (System.nanoTime() - dialedAt) / 1_000_000,
                        (securedAt - dialedAt) / 1_000_000, open.size());
            }
            for (Request r : open) {
                open(r);
            }
            for (Request r : elsewhere) {
                dispatch(r);
            }
        }

        /** The connection failed or closed: waiting streams fail with {@code cause}, it leaves the pool. */
        private void failed(Throwable cause) {
            List<Request> waited;
            synchronized (TunnelPool.this) {
                if (!ready && !gone) {
                    stats.failed(cause); // once: a connection that never came up
                }
                gone = true;
                remove();
                waited = new ArrayList<>(waiting);
                waiting.clear();
            }
            for (Request r : waited) {
                r.result.tryFailure(cause);
            }
            Channel ch = channel;
            if (ch != null) {
                ch.close();
            }
        }

        /** Under the pool's lock. */
        private void remove() {
            List<Pooled> list = pools.get(key);
            if (list != null && list.remove(this) && list.isEmpty()) {
                pools.remove(key);
            }
        }

        /** Opens {@code request}'s stream, whose place is reserved. */
        void open(Request request) {
            stats.streamOpened();
            AtomicBoolean released = new AtomicBoolean();
            Runnable release = () -> {
                if (released.compareAndSet(false, true)) {
                    released();
                }
            };
            new Http2StreamChannelBootstrap(channel)
                    .handler(new ChannelInitializer<Http2StreamChannel>() {
                        @Override
                        protected void initChannel(Http2StreamChannel stream) {
                            stream.closeFuture().addListener(f -> release.run());
                            stream.pipeline()
                                    .addLast("connect", new ConnectResponse(key.destinationAddress(), request.client,
                                            request.relay, request.result))
                                    .addLast("bytes", new StreamBytes());
                        }
                    })
                    .open()
                    .addListener(f -> {
                        if (!f.isSuccess()) {
                            release.run();
                            request.result.tryFailure(f.cause());
                        }
                    });
        }

        /** A stream ended: its place is free; the last one starts the idle clock. */
        private void released() {
            long generation;
            synchronized (TunnelPool.this) {
                reserved--;
                if (reserved > 0) {
                    return;
                }
                generation = gone ? -1 : ++idleGeneration;
            }
            if (generation < 0) {
                // Out of the pool (renewed certificate, the server's GOAWAY, a failure): its last stream ended.
                channel.close();
                return;
            }
            channel.eventLoop().schedule(() -> releaseIfIdle(generation), settings.idleRelease().toNanos(),
                    TimeUnit.NANOSECONDS);
        }

        private void releaseIfIdle(long generation) {
            synchronized (TunnelPool.this) {
                if (generation != idleGeneration || reserved > 0 || gone) {
                    return;
                }
                gone = true;
                remove();
            }
            log.debug("tunnel to {}: idle, released", key.destinationAddress());
            channel.close();
        }

        void close() {
            failed(new ClosedChannelException());
        }
    }

    /** The server of a tunnel opens no streams; one that tries has its stream closed. */
    @ChannelHandler.Sharable
    private static final class RefuseServerStreams extends ChannelInboundHandlerAdapter {

        static final RefuseServerStreams INSTANCE = new RefuseServerStreams();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.close();
        }
    }
}
