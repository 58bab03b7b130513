package io.nodemesh.telemetry.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.nodemesh.telemetry.metrics.IstioMetrics;
import io.prometheus.metrics.config.EscapingScheme;
import io.prometheus.metrics.expositionformats.ExpositionFormatWriter;
import io.prometheus.metrics.expositionformats.ExpositionFormats;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/**
 * Serves {@code /metrics} (Prometheus text, or OpenMetrics / protobuf when the Accept header asks),
 * {@code /healthz} and {@code /top?n=N} (busiest pairs as JSON).
 */
@Sharable
final class MetricsHttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

    /** Most pairs {@code /top} returns, whatever {@code n} says. */
    static final int MAX_TOP = 1000;

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);

    private final PrometheusRegistry registry;
    private final ExpositionFormats formats = ExpositionFormats.init();
    private final IstioMetrics metrics;

    MetricsHttpHandler(PrometheusRegistry registry, IstioMetrics metrics) {
        this.registry = registry;
        this.metrics = metrics;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) throws IOException {
        if (!request.decoderResult().isSuccess()) {
            send(ctx, request, text(HttpResponseStatus.BAD_REQUEST, "malformed request\n"));
            return;
        }
        QueryStringDecoder uri = new QueryStringDecoder(request.uri());
        boolean get = request.method().equals(HttpMethod.GET) || request.method().equals(HttpMethod.HEAD);
        FullHttpResponse response = switch (uri.path()) {
            case "/metrics" -> get ? metrics(ctx, request) : notAllowed();
            case "/healthz" -> get ? text(HttpResponseStatus.OK, "ok\n") : notAllowed();
            case "/top" -> get ? top(uri.parameters()) : notAllowed();
            default -> text(HttpResponseStatus.NOT_FOUND, "no such path: " + uri.path()
                    + " (try /metrics, /healthz, /top?n=10)\n");
        };
        send(ctx, request, response);
    }

    private FullHttpResponse metrics(ChannelHandlerContext ctx, FullHttpRequest request) throws IOException {
        String accept = request.headers().get(HttpHeaderNames.ACCEPT);
        ExpositionFormatWriter writer = formats.findWriter(accept);
        EscapingScheme escaping = EscapingScheme.fromAcceptHeader(accept);
        ByteBuf body = ctx.alloc().buffer();
        try (ByteBufOutputStream out = new ByteBufOutputStream(body)) {
            writer.write(out, registry.scrape(), escaping);
        } catch (IOException | RuntimeException e) {
            body.release();
            throw e;
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body);
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, writer.getContentType());
        return response;
    }

    private FullHttpResponse top(Map<String, List<String>> parameters) throws IOException {
        int n = 10;
        List<String> values = parameters.get("n");
        if (values != null && !values.isEmpty()) {
            try {
                n = Integer.parseInt(values.get(0));
            } catch (NumberFormatException e) {
                n = -1;
            }
            if (n < 1 || n > MAX_TOP) {
                return text(HttpResponseStatus.BAD_REQUEST, "n must be a number from 1 to " + MAX_TOP + ", got '"
                        + values.get(0) + "'\n");
            }
        }
        byte[] json = JSON.writeValueAsBytes(Map.of(
                "series", metrics.seriesCount(),
                "pairs", metrics.top(n)));
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
                Unpooled.wrappedBuffer(json));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        return response;
    }

    private static FullHttpResponse notAllowed() {
        FullHttpResponse response = text(HttpResponseStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        response.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
        return response;
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.copiedBuffer(body, StandardCharsets.UTF_8));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
        return response;
    }

    private static void send(ChannelHandlerContext ctx, FullHttpRequest request, FullHttpResponse response) {
        boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
        HttpUtil.setContentLength(response, response.content().readableBytes());
        if (request.method().equals(HttpMethod.HEAD)) {
            // HEAD: same headers, no body.
            response.content().clear();
        }
        HttpUtil.setKeepAlive(response, keepAlive);
        var future = ctx.writeAndFlush(response);
        if (!keepAlive) {
            future.addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
