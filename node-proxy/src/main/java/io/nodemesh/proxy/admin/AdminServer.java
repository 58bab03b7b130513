package io.nodemesh.proxy.admin;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerDomainSocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.nodemesh.linux.UnixSocketFile;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The proxy's admin HTTP server on the node, on loopback and on a Unix socket (owner-only, what the node's CLI uses):
 * {@code GET /stats}, {@code /connections[?pod=NS/NAME&recent=N]}, {@code /workloads[?namespace=NS]},
 * {@code /services[?namespace=NS]}, {@code /policies[?workload=NS/NAME]}, {@code /certs},
 * {@code /config_dump}, {@code /healthz}. It runs on its own one-thread event loop,
 * so a request never runs on (or waits for) a data-path loop; it only reads counters and the snapshot in force.
 */
public final class AdminServer implements AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String PAGES =
            "/stats, /connections, /workloads, /services, /policies, /certs, /config_dump, /healthz";

    private final EventLoopGroup group;
    private final Channel tcp;
    private final Path socket;
    private final ServerBootstrap unixBootstrap;
    /** The Unix socket's channel; null while a new proxy taking this one's place serves the socket. */
    private Channel unix;

    private AdminServer(EventLoopGroup group, Channel tcp, Channel unix, Path socket, ServerBootstrap unixBootstrap) {
        this.group = group;
        this.tcp = tcp;
        this.unix = unix;
        this.socket = socket;
        this.unixBootstrap = unixBootstrap;
    }

    /**
     * Starts the server on {@code address} (port 0: any free port) and on the Unix socket {@code socket} (its
     * directory created, a stale socket replaced, the new one made owner-only).
     *
     * @throws IOException naming the address or the socket when it cannot be bound
     */
    public static AdminServer start(InetSocketAddress address, Path socket, ProxyView view) throws IOException {
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("nodemesh-admin", true),
                NioIoHandler.newFactory());
        ChannelInitializer<Channel> pages = new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(8192), new Handler(view));
            }
        };
        Channel tcp = null;
        try {
            tcp = bind(new ServerBootstrap().group(group).channel(NioServerSocketChannel.class), pages, address,
                    address.toString());
            UnixSocketFile.prepare(socket, "another process already serves " + socket
                    + " (a second proxy on this node?)");
            ServerBootstrap unixBootstrap = new ServerBootstrap().group(group).channel(NioServerDomainSocketChannel.class)
                    .childHandler(pages);
            Channel unix = bindSocket(unixBootstrap, socket);
            return new AdminServer(group, tcp, unix, socket, unixBootstrap);
        } catch (IOException e) {
            if (tcp != null) {
                tcp.close().awaitUninterruptibly();
            }
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw e;
        }
    }

    private static Channel bind(ServerBootstrap bootstrap, ChannelHandler pages, java.net.SocketAddress address,
            String name) throws IOException {
        var bound = bootstrap.childHandler(pages).bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            throw new IOException("cannot start the admin server on " + name + ": " + bound.cause().getMessage(),
                    bound.cause());
        }
        return bound.channel();
    }

    private static Channel bindSocket(ServerBootstrap bootstrap, Path socket) throws IOException {
        var bound = bootstrap.bind(UnixDomainSocketAddress.of(socket)).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            throw new IOException("cannot start the admin server on " + socket + ": " + bound.cause().getMessage(),
                    bound.cause());
        }
        // Owner-only (0600): the admin API shows the node's pods and connections; the CLI runs as root there.
        UnixSocketFile.restrict(socket, "rw-------");
        return bound.channel();
    }

    /**
     * Lets go of the Unix socket, its file removed, for a new proxy taking this one's place (docs/upgrade.md): the
     * node's CLI asks the new one from then on. Loopback stays.
     */
    public synchronized void releaseSocket() {
        if (unix != null) {
            unix.close().awaitUninterruptibly();
            unix = null;
            UnixSocketFile.remove(socket);
        }
    }

    /** Serves the Unix socket again after a takeover that failed ({@link #releaseSocket}). */
    public synchronized void restoreSocket() throws IOException {
        if (unix == null) {
            UnixSocketFile.prepare(socket, "another process already serves " + socket);
            unix = bindSocket(unixBootstrap, socket);
        }
    }

    /** The bound address (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return (InetSocketAddress) tcp.localAddress();
    }

    /** The Unix socket the admin API is served on too. */
    public Path socket() {
        return socket;
    }

    @Override
    public void close() {
        tcp.close().awaitUninterruptibly();
        // Released: the file is a new proxy's now, and stays.
        releaseSocket();
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    private static FullHttpResponse respond(ProxyView view, FullHttpRequest request) throws IOException {
        if (!request.method().equals(HttpMethod.GET)) {
            return text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET\n");
        }
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        String path = uri.path();
        return switch (path) {
            case "/healthz" -> text(HttpResponseStatus.OK, "ok\n");
            case "/stats" -> json(StatsReport.stats(view));
            case "/connections" -> {
                String recent = parameter(uri, "recent");
                if (recent != null && !recent.matches("[0-9]{1,9}")) {
                    yield text(HttpResponseStatus.BAD_REQUEST, "recent: '" + recent + "' is not a count\n");
                }
                yield json(StatsReport.connections(view, parameter(uri, "pod"),
                        recent == null ? Integer.MAX_VALUE : Integer.parseInt(recent)));
            }
            case "/workloads" -> json(MeshReport.workloads(view, parameter(uri, "namespace")));
            case "/services" -> json(MeshReport.services(view, parameter(uri, "namespace")));
            case "/config_dump" -> json(MeshReport.configDump(view));
            case "/certs" -> json(MeshReport.certificates(view));
            case "/policies" -> {
                String workload = parameter(uri, "workload");
                Map<String, Object> policies = MeshReport.policies(view, workload);
                yield policies == null
                        ? text(HttpResponseStatus.NOT_FOUND, "no workload " + workload + " in the snapshot in force\n")
                        : json(policies);
            }
            default -> text(HttpResponseStatus.NOT_FOUND, "no such page: " + path + " (try " + PAGES + ")\n");
        };
    }

    private static String parameter(QueryStringDecoder uri, String name) {
        List<String> values = uri.parameters().get(name);
        return values == null || values.isEmpty() || values.getFirst().isEmpty() ? null : values.getFirst();
    }

    private static FullHttpResponse json(Object body) throws IOException {
        ByteBuf content = Unpooled.wrappedBuffer(JSON.writeValueAsBytes(body));
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, content);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        return r;
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        return r;
    }

    private static final class Handler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final ProxyView view;

        Handler(ProxyView view) {
            this.view = view;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) throws IOException {
            FullHttpResponse response = respond(view, request);
            HttpUtil.setContentLength(response, response.content().readableBytes());
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            if (keepAlive) {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
                ctx.writeAndFlush(response);
            } else {
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
