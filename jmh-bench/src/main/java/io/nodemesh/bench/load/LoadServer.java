package io.nodemesh.bench.load;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.nodemesh.proxy.config.HostPort;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The back end of every load test: a Netty server answering fixed-size requests ({@link ServerMode#RR}),
 * swallowing a bulk push ({@link ServerMode#SINK}) or feeding a bulk pull ({@link ServerMode#SOURCE}).
 * Start it with {@link #start(Config)} in-process or with {@link #main} as its own process.
 */
public final class LoadServer implements AutoCloseable {

    /** Bulk chunk written by {@link ServerMode#SOURCE}. */
    static final int SOURCE_CHUNK = 64 * 1024;

    private final Config config;
    private final EventLoopGroup group;
    private final Channel listener;
    private final ByteBuf payload;
    private final LongAdder sinkBytes;

    private LoadServer(Config config, EventLoopGroup group, Channel listener, ByteBuf payload, LongAdder sinkBytes) {
        this.config = config;
        this.group = group;
        this.listener = listener;
        this.payload = payload;
        this.sinkBytes = sinkBytes;
    }

    /** Binds and starts serving; the returned server runs until {@link #close()}. */
    public static LoadServer start(Config config) throws InterruptedException {
        config.transport().ensureAvailable();
        int payloadSize = config.mode() == ServerMode.SOURCE ? SOURCE_CHUNK : config.responseSize();
        // One shared read-only payload; every write sends a retained duplicate of it.
        ByteBuf payload = PooledByteBufAllocator.DEFAULT.directBuffer(payloadSize);
        payload.writeBytes(LoadProtocol.request(payloadSize, (byte) 'r'));
        LongAdder sinkBytes = new LongAdder();
        StallPlan stall = new StallPlan(config.stallAfterRequests(), config.stall());
        SinkHandler sink = new SinkHandler(sinkBytes);
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(config.threads(), config.transport().ioHandlerFactory());
        try {
            ServerBootstrap bootstrap = new ServerBootstrap()
                    .group(group)
                    .channel(config.transport().serverChannelClass())
                    .option(ChannelOption.SO_BACKLOG, 4096)
                    .option(ChannelOption.SO_REUSEADDR, true)
                    .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 * 1024, 512 * 1024))
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(switch (config.mode()) {
                                case RR -> new RequestResponseHandler(config.requestSize(), payload, stall);
                                case SINK -> sink;
                                case SOURCE -> new SourceHandler(payload);
                            });
                        }
                    });
            Channel listener = bootstrap.bind(config.bind()).sync().channel();
            return new LoadServer(config, group, listener, payload, sinkBytes);
        } catch (RuntimeException | InterruptedException e) {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).awaitUninterruptibly();
            payload.release();
            throw e;
        }
    }

    /** The bound address (the real port when the config asked for port 0). */
    public InetSocketAddress localAddress() {
        return (InetSocketAddress) listener.localAddress();
    }

    /** The configuration this server runs with. */
    public Config config() {
        return config;
    }

    /** Bytes discarded so far in {@link ServerMode#SINK} (zero in other modes). */
    public long sinkBytes() {
        return sinkBytes.sum();
    }

    /** Closes the listener and every connection, then frees the shared payload. */
    @Override
    public void close() {
        listener.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        if (payload.refCnt() > 0) {
            payload.release();
        }
    }

    /** Runs a server until the process is killed, after printing one JSON line with its address. */
    public static void main(String[] args) {
        System.exit(LoadCli.run(new Cli(), args));
    }

    /** What a {@link LoadServer} binds to and how it serves. */
    public record Config(InetSocketAddress bind, ServerMode mode, int requestSize, int responseSize,
                         int threads, Transport transport, long stallAfterRequests, Duration stall) {
        public Config {
            Objects.requireNonNull(bind, "bind");
            Objects.requireNonNull(mode, "mode");
            Objects.requireNonNull(transport, "transport");
            Objects.requireNonNull(stall, "stall");
            LoadProtocol.checkSize("request size", requestSize);
            LoadProtocol.checkSize("response size", responseSize);
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1, got " + threads);
            }
            if (stallAfterRequests < 0 || stall.isNegative()) {
                throw new IllegalArgumentException("stall settings must not be negative");
            }
        }

        /** A request/response server on {@code bind} with 1 KB each way, epoll, one event loop. */
        public static Config rr(InetSocketAddress bind) {
            return new Config(bind, ServerMode.RR, LoadProtocol.DEFAULT_PAYLOAD, LoadProtocol.DEFAULT_PAYLOAD,
                    1, Transport.EPOLL, 0, Duration.ZERO);
        }

        public Config withMode(ServerMode m) {
            return new Config(bind, m, requestSize, responseSize, threads, transport, stallAfterRequests, stall);
        }

        public Config withSizes(int request, int response) {
            return new Config(bind, mode, request, response, threads, transport, stallAfterRequests, stall);
        }

        public Config withThreads(int n, Transport t) {
            return new Config(bind, mode, requestSize, responseSize, n, t, stallAfterRequests, stall);
        }

        /** Holds back the response to the {@code afterRequests}-th request (across connections) for {@code d}. */
        public Config withStallOnce(long afterRequests, Duration d) {
            return new Config(bind, mode, requestSize, responseSize, threads, transport, afterRequests, d);
        }
    }

    @Command(name = "load-server", mixinStandardHelpOptions = true,
            description = "Serve fixed-size request/response, sink or source load until killed.")
    static final class Cli implements LoadCli.Tool {
        @Option(names = "--bind", defaultValue = "0.0.0.0:9000", converter = LoadCli.AddressConverter.class,
                description = "Address to listen on, host:port or [v6]:port (default ${DEFAULT-VALUE}).")
        InetSocketAddress bind;
        @Option(names = "--mode", defaultValue = "rr", description = "rr, sink or source (default ${DEFAULT-VALUE}).")
        ServerMode mode;
        @Option(names = "--request-size", defaultValue = "1024", description = "Request bytes in rr mode.")
        int requestSize;
        @Option(names = "--response-size", defaultValue = "1024", description = "Response bytes in rr mode.")
        int responseSize;
        @Option(names = "--threads", defaultValue = "1", description = "Event-loop threads (default ${DEFAULT-VALUE}).")
        int threads;
        @Option(names = "--transport", defaultValue = "epoll", description = "epoll, io_uring or nio.")
        Transport transport;
        @Option(names = "--stall-after", defaultValue = "0", description = "Hold back the response to this request once (0: never).")
        long stallAfter;
        @Option(names = "--stall", defaultValue = "200ms", converter = LoadCli.DurationConverter.class,
                description = "How long that one response is held back.")
        Duration stall;

        @Override
        public Object call() throws Exception {
            Config config = new Config(bind, mode, requestSize, responseSize, threads, transport, stallAfter, stall);
            LoadServer server = start(config);
            CountDownLatch stopped = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                server.close();
                stopped.countDown();
            }, "load-server-shutdown"));
            Map<String, Object> ready = new LinkedHashMap<>();
            ready.put("event", "listening");
            ready.put("address", HostPort.format(server.localAddress()));
            ready.put("mode", mode.name().toLowerCase());
            ready.put("transport", transport.name().toLowerCase());
            ready.put("threads", threads);
            LoadCli.printJson(ready);
            stopped.await();
            return null;
        }
    }
}
