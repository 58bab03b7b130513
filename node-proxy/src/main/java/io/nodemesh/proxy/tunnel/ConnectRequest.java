package io.nodemesh.proxy.tunnel;

import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2Headers;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.util.ReferenceCountUtil;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.ConnectionListener;
import io.nodemesh.proxy.relay.Outcomes;
import io.nodemesh.proxy.relay.Relay;
import io.nodemesh.proxy.relay.Upstream;
import io.nodemesh.proxy.stats.TunnelStats;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server's side of one tunnel stream until it is spliced: reads the request, answers 400 to anything but a
 * {@code CONNECT} to an IP:port, asks the authorizer (denied: 401 without a proven peer, 403 with one), connects the
 * app and answers 200 (503 when the app cannot be reached), then relays the stream as the downstream of a
 * {@link Connection} whose source is the app's client named in {@code forwarded}. The stream does not read its DATA
 * until the app is connected, so the client's early bytes wait in the HTTP/2 window, not in memory here.
 */
final class ConnectRequest extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ConnectRequest.class);

    private final TunnelAuthorizer authorizer;
    private final Upstream app;
    private final ConnectionListener listener;
    private final TunnelStats stats;
    private boolean requested;

    ConnectRequest(TunnelAuthorizer authorizer, Upstream app, ConnectionListener listener, TunnelStats stats) {
        this.authorizer = authorizer;
        this.app = app;
        this.listener = listener;
        this.stats = stats;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (requested || !(msg instanceof Http2HeadersFrame request)) {
            ReferenceCountUtil.release(msg); // DATA before the request is answered: a broken client
            return;
        }
        requested = true;
        Channel stream = ctx.channel();
        Http2Headers headers = request.headers();
        InetSocketAddress destination = connectTarget(headers);
        if (destination == null) {
            log.debug("tunnel from {}: not a CONNECT to IP:port ({} {})", stream.remoteAddress(), headers.method(),
                    headers.authority());
            answerAndClose(stream, 400);
            return;
        }
        // Streams exist only once the tunnel connection's peer is proved, so its path is known.
        ConnectionPath path = TunnelPath.of(stream);
        SpiffeId peer = path == null ? null : path.sourcePrincipal();
        InetSocketAddress client = client(headers, stream);
        String denied = authorizer.deny(peer, client, destination);
        ChannelConnection connection = new ChannelConnection(Direction.INBOUND, stream, listener);
        connection.path(path);
        connection.opened(client, destination);
        if (denied != null) {
            log.debug("tunnel {}: denied: {}", connection, denied);
            answer(stream, peer == null ? 401 : 403).addListener(f -> connection.close(Outcome.DENIED));
            return;
        }
        stream.config().setAutoRead(false);
        app.connect(connection, stream.eventLoop(), new Relay(connection, false, stream)).addListener(
                (ChannelFuture connect) -> connected(ctx, connection, connect));
    }

    private void connected(ChannelHandlerContext ctx, ChannelConnection connection, ChannelFuture connect) {
        Channel stream = ctx.channel();
        if (!connect.isSuccess()) {
            Outcome outcome = Outcomes.ofConnectFailure(connect.cause());
            log.debug("tunnel {}: app connect failed ({}): {}", connection, outcome, connect.cause().toString());
            answer(stream, 503).addListener(f -> connection.close(outcome));
            return;
        }
        Channel up = connect.channel();
        if (!stream.isActive()) {
            up.close(); // the client gave up while the app was being connected
            return;
        }
        connection.upstreamConnected(up);
        answer(stream, 200);
        ctx.pipeline().addLast("relay", new Relay(connection, true, up));
        ctx.pipeline().remove(this);
        up.config().setAutoRead(true);
        stream.config().setAutoRead(true);
    }

    /** The {@code :authority} of a {@code CONNECT}, or null when the request is not one to a literal IP:port. */
    private static InetSocketAddress connectTarget(Http2Headers headers) {
        CharSequence authority = headers.authority();
        if (authority == null || !HttpMethod.CONNECT.asciiName().contentEquals(headers.method())) {
            return null;
        }
        try {
            InetSocketAddress target = HostPort.parse(authority.toString());
            return target.getPort() == 0 ? null : target;
        } catch (IllegalArgumentException notIpPort) {
            return null;
        }
    }


    /** The app's client from {@code forwarded: for=} (RFC 7239, as the tunnel's client writes it), else the tunnel's peer. */
    static InetSocketAddress client(Http2Headers headers, Channel stream) {
        CharSequence forwarded = headers.get("forwarded");
        if (forwarded != null) {
            for (String element : forwarded.toString().split("[;,]")) {
                String pair = element.strip();
                if (pair.regionMatches(true, 0, "for=", 0, 4)) {
                    String node = pair.substring(4).replace("\"", "");
                    if (node.startsWith("[") && node.indexOf(']') > 0) {
                        node = node.substring(1, node.indexOf(']'));
                    }
                    try {
                        return new InetSocketAddress(HostPort.literal(node), 0);
                    } catch (IllegalArgumentException notAnAddress) {
                        break; // an obfuscated or unknown node: the tunnel's peer is the best left
                    }
                }
            }
        }
        return stream.remoteAddress() instanceof InetSocketAddress peer ? peer : new InetSocketAddress(0);
    }

    private ChannelFuture answer(Channel stream, int status) {
        stats.answered(status);
        boolean end = status != 200;
        return stream.writeAndFlush(new DefaultHttp2HeadersFrame(
                new DefaultHttp2Headers().status(Integer.toString(status)), end));
    }

    private void answerAndClose(Channel stream, int status) {
        answer(stream, status).addListener(ChannelFutureListener.CLOSE);
    }
}
