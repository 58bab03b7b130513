package io.nodemesh.discovery.kubernetes;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.websocketx.CloseWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PingWebSocketFrame;
import io.netty.handler.codec.http.websocketx.PongWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshaker;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketCloseStatus;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The few calls the source makes to the Kubernetes API: a list (every page of it) and a watch over a WebSocket, each
 * event a JSON text message (what the API server and its test mock both serve). On Netty, the proxy's own network
 * stack, on one event loop thread of its own ({@code nodemesh-kube-api}); TLS is the {@link ApiConfig#tls()} context,
 * OpenSSL where Netty has it (the tunnel's), so that a start does not load and warm up a second TLS and HTTP stack
 * (the JDK's HTTP client and JSSE: about 800 classes, and a cold JVM's CPU for a dozen handshakes).
 *
 * <p>Lists run on the caller's (virtual) thread: each page's body is read as it comes, one object's tree at a time,
 * the connection's reads paused while more than a few chunks wait; connections are kept for the next list. A watch has
 * a connection of its own; its events are handed to its {@link WatchListener} on the event loop.
 */
final class ApiClient implements AutoCloseable {

    /** Objects per page of a list: a node's cache fills in a few requests without one huge response. */
    static final int PAGE = 500;

    /** At most this long to connect (TLS handshake included), and to open a watch. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /** At most this long for an answer's head, and between two parts of its body. */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(30);
    /**
     * A watch event (one WebSocket message) at most this large. The API's objects are far smaller (etcd takes a
     * request of at most 1.5 MiB by default); a larger one breaks the watch, which is opened again after a list.
     */
    static final int MAX_EVENT = 16 << 20;
    /** WebSocket's normal closure. */
    static final int NORMAL_CLOSURE = 1000;
    /** The last handler of every connection's pipeline: an exchange goes before it. */
    private static final String END = "end";
    /**
     * Takes what reaches the end of a pipeline with no exchange in it: a failed TLS handshake (reported by the
     * handshake's future already), or a kept connection's error. The connection closes.
     */
    private static final ChannelHandler QUIET_END = new QuietEnd();
    /** Chunks of a list's body waiting to be read before the connection's reads pause. */
    private static final int CHUNKS_AHEAD = 16;

    private final ApiConfig config;
    private final String host;
    private final int port;
    private final boolean https;
    private final EventLoopGroup loop;
    private final Class<? extends SocketChannel> channelType;
    /** Connections kept alive after a list's page, for the next. */
    private final Deque<Channel> idle = new ConcurrentLinkedDeque<>();
    /** The parser leaves a page's body open: the list reads it to its end to keep the connection. */
    private final ObjectMapper json = new ObjectMapper().configure(JsonParser.Feature.AUTO_CLOSE_SOURCE, false);
    private volatile boolean closed;

    ApiClient(ApiConfig config) {
        this.config = config;
        URI server = config.server();
        this.https = "https".equals(server.getScheme());
        String h = server.getHost();
        this.host = h.startsWith("[") && h.endsWith("]") ? h.substring(1, h.length() - 1) : h;
        this.port = server.getPort() > 0 ? server.getPort() : https ? 443 : 80;
        boolean epoll = Epoll.isAvailable();
        IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.loop = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("nodemesh-kube-api", true), io);
        this.channelType = epoll ? EpollSocketChannel.class : NioSocketChannel.class;
    }

    /** The API's base address. */
    URI server() {
        return config.server();
    }

    /**
     * Lists {@code path} (e.g. {@code /api/v1/pods}) with {@code query} (encoded, may be empty), page by page, handing
     * each object to {@code each} as it is read: one object's tree at a time, however large the list. Returns the
     * list's resource version, to watch from.
     *
     * @throws ApiException on an answer other than 200, or a body that is not a list
     */
    String list(String path, String query, Consumer<JsonNode> each) throws IOException, InterruptedException {
        String next = null;
        String version;
        do {
            String q = join(query, "limit=" + PAGE, next == null ? "" : "continue=" + encode(next));
            try (Exchange answer = get(path + "?" + q)) {
                if (answer.status() != 200) {
                    throw ApiException.of("GET " + path, answer.status(), parseQuietly(answer.readAllBytes()));
                }
                Page page = page(path, answer, each);
                version = page.resourceVersion();
                next = page.next();
                answer.readToEnd(); // what follows the list's object (nothing, or white space) is the page's too
            }
        } while (next != null);
        return version;
    }

    private record Page(String resourceVersion, String next) {
    }

    /** Reads one page of a list: its items one by one, and its metadata (before or after them). */
    private Page page(String path, InputStream body, Consumer<JsonNode> each) throws IOException {
        String version = "";
        String next = null;
        try (JsonParser p = json.createParser(body)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new ApiException("GET " + path + ": the answer is not a list", 0);
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                JsonToken value = p.nextToken();
                if ("items".equals(field) && value == JsonToken.START_ARRAY) {
                    while (p.nextToken() == JsonToken.START_OBJECT) {
                        each.accept(json.readTree(p));
                    }
                } else if ("metadata".equals(field) && value == JsonToken.START_OBJECT) {
                    JsonNode meta = json.readTree(p);
                    version = meta.path("resourceVersion").asText("");
                    String token = meta.path("continue").asText("");
                    next = token.isEmpty() ? null : token;
                } else {
                    p.skipChildren();
                }
            }
        }
        return new Page(version, next);
    }

    /** Sends {@code GET target} on a kept connection, or a new one, and returns once the answer's head is in. */
    private Exchange get(String target) throws IOException, InterruptedException {
        int query = target.indexOf('?');
        String what = "GET " + (query < 0 ? target : target.substring(0, query));
        Channel kept;
        while ((kept = idle.pollFirst()) != null) {
            if (kept.isActive()) {
                try {
                    return send(kept, target, what);
                } catch (Stale e) {
                    // Closed by the server while it was kept (its idle timeout): a new connection, as HTTP allows
                    // for a request that changes nothing.
                }
            }
        }
        try {
            return send(connect(what, null), target, what);
        } catch (Stale e) {
            throw new IOException(what + ": " + e.getMessage(), e.getCause());
        }
    }

    private Exchange send(Channel channel, String target, String what) throws IOException, InterruptedException {
        Exchange exchange = new Exchange(channel, what);
        channel.pipeline().addBefore(END, "exchange", exchange.reader);
        FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, target,
                Unpooled.EMPTY_BUFFER);
        headers(request.headers());
        request.headers().set(HttpHeaderNames.ACCEPT, "application/json");
        channel.writeAndFlush(request).addListener(f -> {
            if (!f.isSuccess()) {
                exchange.fail(f.cause());
            }
        });
        exchange.awaitHead();
        return exchange;
    }

    private void headers(HttpHeaders headers) {
        headers.set(HttpHeaderNames.HOST, hostHeader());
        headers.set(HttpHeaderNames.USER_AGENT, "nodemesh");
        String authorization = authorization();
        if (authorization != null) {
            headers.set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
    }

    private String hostHeader() {
        String h = host.contains(":") ? "[" + host + "]" : host;
        return port == (https ? 443 : 80) ? h : h + ":" + port;
    }

    /**
     * A new connection to the API, its TLS handshake done, with {@code last} (when not null) at the end of its
     * pipeline behind the HTTP codec.
     */
    private Channel connect(String what, ChannelHandler last) throws IOException,
            InterruptedException {
        if (closed) {
            throw new IOException(what + ": the client is closed");
        }
        InetAddress address;
        try {
            address = InetAddress.getByName(host); // here, on the caller's thread, not on the event loop
        } catch (IOException e) {
            throw new IOException(what + ": cannot resolve the API's host " + host + ": " + e.getMessage(), e);
        }
        Bootstrap bootstrap = new Bootstrap().group(loop).channel(channelType)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT.toMillis())
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ChannelPipeline p = ch.pipeline();
                        if (https) {
                            // The context checks that the certificate names the host (ApiConfig).
                            SslHandler tls = config.tls().newHandler(ch.alloc(), host, port);
                            tls.setHandshakeTimeoutMillis(CONNECT_TIMEOUT.toMillis());
                            p.addLast("tls", tls);
                        }
                        p.addLast("http", new HttpClientCodec());
                        if (last != null) {
                            p.addLast(last);
                        }
                        p.addLast(END, QUIET_END);
                    }
                });
        ChannelFuture connected = bootstrap.connect(new InetSocketAddress(address, port));
        String where = config.server().toString();
        Channel channel = connected.channel();
        try {
            await(connected, CONNECT_TIMEOUT.plusSeconds(1), what + ": cannot connect to the API at " + where);
            if (https) {
                await(channel.pipeline().get(SslHandler.class).handshakeFuture(), CONNECT_TIMEOUT.plusSeconds(1),
                        what + ": TLS with the API at " + where + " failed");
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            channel.close();
            throw e;
        }
        return channel;
    }

    private static void await(Future<?> future, Duration within, String what) throws IOException,
            InterruptedException {
        if (!future.await(within.toMillis())) {
            throw new IOException(what + ": not done within " + within.toMillis() + " ms");
        }
        if (!future.isSuccess()) {
            Throwable cause = future.cause();
            throw new IOException(what + ": " + message(cause), cause);
        }
    }

    /** A cause's message, down to the first cause that has one (TLS errors wrap the reason a level or two down). */
    private static String message(Throwable cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t.getMessage() != null && !t.getMessage().isBlank()) {
                return t instanceof IOException && t.getClass() != IOException.class
                        ? t.getClass().getSimpleName() + ": " + t.getMessage() : t.getMessage();
            }
        }
        return String.valueOf(cause);
    }

    /**
     * Opens a watch of {@code path} from {@code resourceVersion} with bookmarks; the server ends it after
     * {@code timeout}. Returns once the server has switched to the WebSocket; fails unless it has within
     * {@code openWithin} of the connection (and its TLS) being up. The listener gets each event's text, whole, on the client's event loop.
     *
     * @throws Refused when the server answers the opening with another status (410: the version is gone)
     */
    Watch watch(String path, String query, String resourceVersion, Duration timeout, Duration openWithin,
            WatchListener listener) throws IOException, InterruptedException {
        // resourceVersion before watch=true: the tests' API mock recognises a resumed watch by that order.
        String q = join(query, "resourceVersion=" + encode(resourceVersion), "allowWatchBookmarks=true",
                "timeoutSeconds=" + timeout.toSeconds(), "watch=true");
        URI server = config.server();
        URI uri = URI.create((https ? "wss" : "ws") + server.toString().substring(server.getScheme().length()) + path
                + "?" + q);
        DefaultHttpHeaders headers = new DefaultHttpHeaders();
        String authorization = authorization();
        if (authorization != null) {
            headers.set(HttpHeaderNames.AUTHORIZATION, authorization);
        }
        WebSocketClientHandshaker handshaker = WebSocketClientHandshakerFactory.newHandshaker(uri,
                WebSocketVersion.V13, null, false, headers, MAX_EVENT);
        WatchHandler watch = new WatchHandler(handshaker, listener, "watch " + path);
        Channel channel = connect("watch " + path, watch);
        try {
            watch.open(channel, openWithin);
        } catch (IOException | InterruptedException | RuntimeException e) {
            channel.close();
            throw e;
        }
        return watch;
    }

    /** An open watch. */
    interface Watch {
        /** Sends a ping; the pong comes to {@link WatchListener#onPong}. */
        void ping();

        /** Drops the connection; the listener hears nothing more. */
        void abort();
    }

    /** A watch's events, each called on the client's event loop. */
    interface WatchListener {
        /** One event's JSON text. */
        void onText(Watch watch, String text);

        /** A pong, or a ping from the server (answered already): the connection is alive. */
        void onPong(Watch watch);

        /** The server closed the WebSocket with {@code code} (1005 when it gave none). */
        void onClose(Watch watch, int code);

        /** The connection broke, or a message could not be read. */
        void onError(Watch watch, Throwable error);
    }

    /** The opening of a watch, and its frames once open. */
    private static final class WatchHandler extends ChannelInboundHandlerAdapter implements Watch {
        private final WebSocketClientHandshaker handshaker;
        private final WatchListener listener;
        private final String what;
        /** Completed (on the event loop) when the server has switched, or has refused. */
        private volatile Promise<Void> opened;
        private volatile Channel channel;
        /** Set once the listener has heard the end (close or error), or asked for it: nothing follows. */
        private volatile boolean ended;

        WatchHandler(WebSocketClientHandshaker handshaker, WatchListener listener, String what) {
            this.handshaker = handshaker;
            this.listener = listener;
            this.what = what;
        }

        /** Sends the opening on {@code ch} (connected, TLS done) and waits for the switch. */
        void open(Channel ch, Duration within) throws IOException, InterruptedException {
            channel = ch;
            Promise<Void> promise = ch.eventLoop().newPromise();
            opened = promise;
            ch.pipeline().addBefore(ch.pipeline().context(this).name(), "aggregator", new HttpObjectAggregator(1 << 20));
            ch.pipeline().addBefore(ch.pipeline().context(this).name(), "frames", new WebSocketFrameAggregator(
                    MAX_EVENT));
            handshaker.handshake(ch).addListener(f -> {
                if (!f.isSuccess()) {
                    promise.tryFailure(f.cause());
                }
            });
            if (!promise.await(within.toMillis())) {
                throw new IOException(what + ": the server did not answer the opening within " + within.toMillis()
                        + " ms");
            }
            if (!promise.isSuccess()) {
                if (promise.cause() instanceof Refused refused) {
                    throw refused;
                }
                throw new IOException(what + ": " + message(promise.cause()), promise.cause());
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            try {
                if (!handshaker.isHandshakeComplete()) {
                    if (msg instanceof FullHttpResponse response) {
                        if (response.status().code() != HttpResponseStatus.SWITCHING_PROTOCOLS.code()) {
                            opened.tryFailure(new Refused(response.status().code(),
                                    response.content().toString(StandardCharsets.UTF_8)));
                            ctx.close();
                            return;
                        }
                        handshaker.finishHandshake(ctx.channel(), response);
                        opened.trySuccess(null);
                    }
                    return;
                }
                if (ended) {
                    return;
                }
                if (msg instanceof TextWebSocketFrame text) {
                    listener.onText(this, text.text());
                } else if (msg instanceof PingWebSocketFrame ping) {
                    ctx.writeAndFlush(new PongWebSocketFrame(ping.content().retain()));
                    listener.onPong(this);
                } else if (msg instanceof PongWebSocketFrame) {
                    listener.onPong(this);
                } else if (msg instanceof CloseWebSocketFrame close) {
                    int code = close.statusCode() < 0 ? WebSocketCloseStatus.EMPTY.code() : close.statusCode();
                    ended = true;
                    ctx.writeAndFlush(new CloseWebSocketFrame(code, "")).addListener(f -> ctx.close());
                    listener.onClose(this, code);
                }
                // Binary frames: none expected; dropped.
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            Promise<Void> promise = opened;
            if (promise != null) {
                promise.tryFailure(new ClosedChannelException());
            }
            end(new IOException("the connection closed without a WebSocket close"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            Promise<Void> promise = opened;
            if (promise != null) {
                promise.tryFailure(cause);
            }
            end(cause);
            ctx.close();
        }

        private void end(Throwable cause) {
            if (!ended && handshaker.isHandshakeComplete()) {
                ended = true;
                listener.onError(this, cause);
            }
        }

        @Override
        public void ping() {
            Channel ch = channel;
            if (ch != null) {
                ch.writeAndFlush(new PingWebSocketFrame());
            }
        }

        @Override
        public void abort() {
            ended = true; // the listener asked for the end: it is not told of it
            Channel ch = channel;
            if (ch != null) {
                ch.close();
            }
        }
    }

    /** A watch's opening answered with {@code status} instead of the switch to a WebSocket. */
    static final class Refused extends IOException {
        private final int status;
        private final String body;

        Refused(int status, String body) {
            super("HTTP " + status);
            this.status = status;
            this.body = body;
        }

        int status() {
            return status;
        }

        /** What the server said, as text (a {@code Status} object, usually). */
        String body() {
            return body;
        }
    }

    /**
     * One request's answer: its head, then its body as an {@link InputStream} fed from the event loop. Closing it
     * releases what was not read and keeps the connection for the next request when the answer was read to its end.
     */
    private final class Exchange extends InputStream {
        private final Channel channel;
        private final String what;
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition changed = lock.newCondition();
        private final ArrayDeque<ByteBuf> chunks = new ArrayDeque<>();
        private final Promise<HttpResponse> head;
        private boolean ended;
        private boolean keepAlive;
        private boolean released;
        private Throwable failure;

        Exchange(Channel channel, String what) {
            this.channel = channel;
            this.what = what;
            this.head = channel.eventLoop().newPromise();
        }

        void awaitHead() throws IOException, InterruptedException {
            try {
                if (!head.await(REQUEST_TIMEOUT.toMillis())) {
                    throw new IOException(what + ": no answer within " + REQUEST_TIMEOUT.toMillis() + " ms");
                }
                if (!head.isSuccess()) {
                    Throwable cause = head.cause();
                    if (cause instanceof Stale stale) {
                        throw stale;
                    }
                    if (cause instanceof ClosedChannelException) {
                        throw new Stale(cause);
                    }
                    throw new IOException(what + ": " + message(cause), cause);
                }
            } catch (IOException | InterruptedException | RuntimeException e) {
                close();
                throw e;
            }
        }

        int status() {
            return head.getNow().status().code();
        }

        /** The exchange's end of the channel's pipeline, on the event loop. */
        final ChannelHandler reader = new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof HttpResponse response) {
                    keepAlive = HttpUtil.isKeepAlive(response);
                    head.trySuccess(response);
                }
                if (msg instanceof HttpContent content) {
                    offer(content.content(), content instanceof LastHttpContent);
                } else {
                    ReferenceCountUtil.release(msg);
                }
            }

            @Override
            public void channelInactive(ChannelHandlerContext ctx) {
                fail(head.isDone() ? new IOException("the connection closed before the answer's end")
                        : new Stale(new ClosedChannelException()));
                ctx.fireChannelInactive();
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                fail(cause);
                ctx.close();
            }
        };

        private void offer(ByteBuf chunk, boolean last) {
            lock.lock();
            try {
                if (released || !chunk.isReadable()) {
                    chunk.release();
                } else {
                    chunks.addLast(chunk);
                    if (chunks.size() >= CHUNKS_AHEAD) {
                        channel.config().setAutoRead(false); // on again as the reader catches up
                    }
                }
                ended |= last;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        void fail(Throwable cause) {
            head.tryFailure(cause);
            lock.lock();
            try {
                if (!ended && failure == null) {
                    failure = cause;
                }
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        // On the reader's thread.

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] into, int offset, int length) throws IOException {
            if (length == 0) {
                return 0;
            }
            lock.lock();
            try {
                long waitUntil = System.nanoTime() + REQUEST_TIMEOUT.toNanos();
                while (true) {
                    if (released) {
                        throw new IOException(what + ": the answer was closed");
                    }
                    ByteBuf chunk = chunks.peekFirst();
                    if (chunk != null) {
                        int n = Math.min(length, chunk.readableBytes());
                        chunk.readBytes(into, offset, n);
                        if (!chunk.isReadable()) {
                            chunks.pollFirst().release();
                            if (chunks.size() < CHUNKS_AHEAD / 2 && !channel.config().isAutoRead()) {
                                channel.config().setAutoRead(true);
                            }
                        }
                        return n;
                    }
                    if (ended) {
                        return -1;
                    }
                    if (failure != null) {
                        throw new IOException(what + ": the answer broke off: " + message(failure), failure);
                    }
                    long left = waitUntil - System.nanoTime();
                    if (left <= 0) {
                        throw new IOException(what + ": the answer stalled for " + REQUEST_TIMEOUT.toMillis()
                                + " ms");
                    }
                    changed.awaitNanos(left);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptedIOException(what + ": interrupted");
            } finally {
                lock.unlock();
            }
        }

        /** Reads (and drops) what is left of the body. */
        void readToEnd() throws IOException {
            byte[] skip = new byte[8192];
            while (read(skip, 0, skip.length) >= 0) {
                // dropped
            }
        }

        @Override
        public void close() {
            boolean reusable;
            lock.lock();
            try {
                if (released) {
                    return;
                }
                released = true;
                chunks.forEach(ByteBuf::release);
                chunks.clear();
                reusable = ended && keepAlive && failure == null && head.isSuccess();
            } finally {
                lock.unlock();
            }
            if (channel.pipeline().context(reader) != null) {
                try {
                    channel.pipeline().remove(reader);
                } catch (java.util.NoSuchElementException raced) {
                    // removed as the channel closed
                }
            }
            if (reusable && !closed && channel.isActive()) {
                channel.config().setAutoRead(true);
                idle.addFirst(channel);
                if (closed) { // closed meanwhile: close() may have drained the list before this one came
                    channel.close();
                }
            } else {
                channel.close();
            }
        }
    }

    @ChannelHandler.Sharable
    private static final class QuietEnd extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** A kept connection that the server had closed: the request is sent again on a new one. */
    private static final class Stale extends IOException {
        Stale(Throwable cause) {
            super("the connection closed before an answer", cause);
        }
    }

    /** A JSON text as a tree. */
    JsonNode parse(String text) throws IOException {
        return json.readTree(text);
    }

    private JsonNode parseQuietly(byte[] body) {
        try {
            return json.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    /** The {@code Authorization} header's value for the token in force now, or null without one. */
    private String authorization() {
        String token = config.token() == null ? null : config.token().get();
        return token == null ? null : "Bearer " + token;
    }

    static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8);
    }

    private static String join(String... parts) {
        StringBuilder out = new StringBuilder();
        for (String p : parts) {
            if (!p.isEmpty()) {
                out.append(out.isEmpty() ? "" : "&").append(p);
            }
        }
        return out.toString();
    }

    @Override
    public void close() {
        closed = true;
        Channel kept;
        while ((kept = idle.pollFirst()) != null) {
            kept.close();
        }
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }

    /** An answer of the API other than success: its status code and what it said. */
    static final class ApiException extends IOException {
        private final int status;

        ApiException(String message, int status) {
            super(message);
            this.status = status;
        }

        /** From an HTTP status and the body, a {@code Status} object when the API sent one. */
        static ApiException of(String what, int status, JsonNode body) {
            String message = body == null ? "" : body.path("message").asText("");
            return new ApiException(what + ": HTTP " + status + (message.isEmpty() ? "" : ": " + message), status);
        }

        /** The HTTP status, or the {@code code} of an ERROR event ({@code 410}: the version asked for is gone). */
        int status() {
            return status;
        }
    }
}
