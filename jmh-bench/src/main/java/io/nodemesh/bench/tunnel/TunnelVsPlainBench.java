package io.nodemesh.bench.tunnel;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.nodemesh.proxy.inpod.PodUpstream;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.ConnectionListener;
import io.nodemesh.proxy.relay.Upstream;
import io.nodemesh.proxy.relay.UpstreamConnector;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.proxy.stats.TunnelStats;
import io.nodemesh.proxy.tunnel.PlaintextSecurity;
import io.nodemesh.proxy.tunnel.TunnelAuthorizer;
import io.nodemesh.proxy.tunnel.TunnelPool;
import io.nodemesh.proxy.tunnel.TunnelServer;
import io.nodemesh.proxy.tunnel.TunnelSettings;
import io.nodemesh.proxy.tunnel.TunnelUpstream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.HdrHistogram.Histogram;

/**
 * The relay with a tunnel in the middle against the plain relay, in one JVM and one run, on loopback: both relay an
 * app's connections through the proxy's own classes ({@code relay.Connection}, {@code UpstreamConnector}) on the
 * proxy's epoll loops; the plain one connects the app over TCP ({@code inpod.PodUpstream}), the tunnelled one opens a
 * stream on a pooled HTTP/2 connection ({@code tunnel.TunnelUpstream}) to a {@code TunnelServer} that connects the app
 * (plaintext tunnel security: what HTTP/2 framing, flow control and the second hop cost, without TLS). Two loads per
 * subject, alternated: 1 KiB request/response round trips on 16 connections (latency per request) and one connection
 * pushing bytes to a sink (throughput). Run: {@code java --enable-native-access=ALL-UNNAMED
 * --sun-misc-unsafe-memory-access=allow -cp jmh-bench/target/benchmarks.jar io.nodemesh.bench.tunnel.TunnelVsPlainBench
 * [requestsPerConnection] [bulkMiB]}.
 */
public final class TunnelVsPlainBench {

    private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
    private static final SpiffeId SOURCE = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "bench", "client");
    private static final SpiffeId DESTINATION = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "bench", "server");
    private static final int CONNECTIONS = 16;
    private static final int REQUEST = 1024;

    private TunnelVsPlainBench() {
    }

    public static void main(String[] args) throws Exception {
        int requests = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        int bulkMiB = args.length > 1 ? Integer.parseInt(args[1]) : 512;
        EventLoopGroup group = Transport.select(TransportKind.EPOLL, System.err::println).newEventLoopGroup(2, "bench");
        try (ServerSocket echo = server(TunnelVsPlainBench::echo); ServerSocket sink = server(TunnelVsPlainBench::sink)) {
            TunnelSettings settings = TunnelSettings.defaults();
            Channel tunnelServer = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new TunnelServer(settings, new PlaintextSecurity(SOURCE), TunnelAuthorizer.ALLOW_ALL,
                            plainUpstream(), NOTHING, new TunnelStats()))
                    .bind(new InetSocketAddress(LOOPBACK, 0)).sync().channel();
            TunnelPool pool = new TunnelPool(settings.withPort(((InetSocketAddress) tunnelServer.localAddress()).getPort()),
                    new PlaintextSecurity(SOURCE), () -> new Bootstrap().channel(EpollSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true), new TunnelStats());
            TunnelUpstream tunnel = new TunnelUpstream(pool, SOURCE);
            Front plain = new Front(group, plainUpstream());
            Front tunnelled = new Front(group, (c, loop, relay) -> tunnel.connect(c, DESTINATION, c.destination(), loop, relay));
            System.out.printf(Locale.ROOT, "warm-up ...%n");
            for (Front f : List.of(plain, tunnelled)) {
                latency(f, echo, requests / 4);
                throughput(f, sink, bulkMiB / 4);
            }
            System.out.printf(Locale.ROOT, "| subject | round | p50 µs | p90 µs | p99 µs | requests/s | bulk MiB/s |%n");
            System.out.printf(Locale.ROOT, "|---|---:|---:|---:|---:|---:|---:|%n");
            for (int round = 1; round <= 2; round++) {
                for (Front f : List.of(plain, tunnelled)) {
                    long start = System.nanoTime();
                    Histogram h = latency(f, echo, requests);
                    double seconds = (System.nanoTime() - start) / 1e9;
                    double mibPerSecond = throughput(f, sink, bulkMiB);
                    System.out.printf(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.1f | %.0f | %.0f |%n",
                            f == plain ? "plain relay" : "tunnel (h2c)", round,
                            h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(90) / 1e3,
                            h.getValueAtPercentile(99) / 1e3, h.getTotalCount() / seconds, mibPerSecond);
                }
            }
            pool.close();
            plain.close();
            tunnelled.close();
            tunnelServer.close().sync();
        } finally {
            group.shutdownGracefully().sync();
        }
    }

    /** {@code CONNECTIONS} clients, each {@code requests} sequential 1 KiB round trips; every round trip timed. */
    private static Histogram latency(Front front, ServerSocket app, int requests) throws Exception {
        Histogram all = new Histogram(3);
        try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Histogram>> each = new ArrayList<>();
            for (int c = 0; c < CONNECTIONS; c++) {
                each.add(clients.submit(() -> {
                    Histogram h = new Histogram(3);
                    byte[] request = new byte[REQUEST];
                    byte[] response = new byte[REQUEST];
                    try (Socket s = front.connect(app)) {
                        OutputStream out = s.getOutputStream();
                        DataInputStream in = new DataInputStream(s.getInputStream());
                        for (int i = 0; i < requests; i++) {
                            long t = System.nanoTime();
                            out.write(request);
                            in.readFully(response);
                            h.recordValue(System.nanoTime() - t);
                        }
                    }
                    return h;
                }));
            }
            for (Future<Histogram> f : each) {
                all.add(f.get());
            }
        }
        return all;
    }

    /** One connection pushing {@code mib} MiB to a sink that answers with one byte at the end; MiB per second. */
    private static double throughput(Front front, ServerSocket app, int mib) throws IOException {
        byte[] chunk = new byte[256 * 1024];
        try (Socket s = front.connect(app)) {
            long start = System.nanoTime();
            OutputStream out = s.getOutputStream();
            for (int i = 0; i < mib * 4; i++) {
                out.write(chunk);
            }
            s.shutdownOutput();
            if (s.getInputStream().read() != 1) {
                throw new IOException("the sink did not confirm");
            }
            return mib / ((System.nanoTime() - start) / 1e9);
        }
    }

    private static void echo(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        OutputStream out = s.getOutputStream();
        byte[] buf = new byte[64 * 1024];
        int n;
        while ((n = in.read(buf)) >= 0) {
            out.write(buf, 0, n);
        }
    }

    private static void sink(Socket s) throws IOException {
        s.getInputStream().transferTo(OutputStream.nullOutputStream());
        s.getOutputStream().write(1);
    }

    private interface App {
        void serve(Socket s) throws IOException;
    }

    private static ServerSocket server(App app) throws IOException {
        ServerSocket listener = new ServerSocket(0, 256, LOOPBACK);
        Thread.ofVirtual().start(() -> {
            while (!listener.isClosed()) {
                try {
                    Socket s = listener.accept();
                    s.setTcpNoDelay(true);
                    Thread.ofVirtual().start(() -> {
                        try (s) {
                            app.serve(s);
                        } catch (IOException ignored) {
                            // the client went away
                        }
                    });
                } catch (IOException closed) {
                    return;
                }
            }
        });
        return listener;
    }

    private static Upstream plainUpstream() {
        return new PodUpstream(loop -> new Bootstrap().group(loop).channel(EpollSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.TCP_NODELAY, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 5000));
    }

    private static final ConnectionListener NOTHING = new ConnectionListener() {
        @Override
        public void opened(Connection connection) {
        }

        @Override
        public void closed(Connection connection, Outcome outcome, long durationNanos) {
        }

        @Override
        public void notRedirected(Connection connection, String reason) {
        }
    };

    /** The proxy's outbound side without capture: each accepted connection is relayed to the app it names. */
    private static final class Front implements AutoCloseable {

        private final Channel listener;
        private volatile InetSocketAddress target;

        Front(EventLoopGroup group, Upstream upstream) throws InterruptedException {
            listener = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                    .childOption(ChannelOption.AUTO_READ, false)
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, ch, NOTHING);
                            connection.opened(target);
                            ch.pipeline().addLast(new UpstreamConnector(connection, upstream));
                        }
                    })
                    .bind(new InetSocketAddress(LOOPBACK, 0)).sync().channel();
        }

        Socket connect(ServerSocket app) throws IOException {
            target = (InetSocketAddress) app.getLocalSocketAddress();
            Socket s = new Socket();
            s.setTcpNoDelay(true);
            s.connect(listener.localAddress(), 5000);
            return s;
        }

        @Override
        public void close() throws InterruptedException {
            listener.close().sync();
        }
    }
}
