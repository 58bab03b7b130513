package io.nodemesh.proxy.tunnel;

import static io.nodemesh.proxy.tunnel.TunnelTest.connect;
import static io.nodemesh.proxy.tunnel.TunnelTest.exchange;
import static io.nodemesh.proxy.tunnel.TunnelTest.random;
import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.relay.Outcomes;
import io.nodemesh.proxy.stats.TunnelStats;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** What the tunnel does over time and under load: bad requests, back-pressure, idle release, liveness, timeouts. */
@Timeout(60)
class TunnelLifecycleTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private static final int MANY = 64 << 20;

    @Test
    void aRequestOtherThanConnectIsAnswered400() throws Exception {
        try (TunnelRig rig = TunnelRig.plain()) {
            Channel raw = new Bootstrap().group(rig.group).channel(EpollSocketChannel.class)
                    .handler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                    new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                        }
                    })
                    .connect(rig.tunnelAddress).sync().channel();
            try {
                CompletableFuture<String> status = new CompletableFuture<>();
                Http2StreamChannel stream = new Http2StreamChannelBootstrap(raw)
                        .handler(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (msg instanceof Http2HeadersFrame h) {
                                    status.complete(String.valueOf(h.headers().status()));
                                }
                                ReferenceCountUtil.release(msg);
                            }
                        })
                        .open().sync().getNow();
                stream.writeAndFlush(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("GET")
                        .path("/").scheme("http").authority("127.0.0.1:80"), true));
                assertThat(status.get(5, TimeUnit.SECONDS)).isEqualTo("400");
            } finally {
                raw.close().sync();
            }
        }
    }

    @Test
    void anAppWritingManyMegabytesToAPausedClientIsHeldBackNotBuffered() throws Exception {
        AtomicLong written = new AtomicLong();
        try (AppServer app = AppServer.start(s -> {
                OutputStream out = s.getOutputStream();
                byte[] chunk = random(64 * 1024, 3);
                for (int sent = 0; sent < MANY; sent += chunk.length) {
                    out.write(chunk);
                    written.addAndGet(chunk.length);
                }
                s.shutdownOutput();
                s.getInputStream().transferTo(OutputStream.nullOutputStream());
            });
             TunnelRig rig = TunnelRig.plain();
             Socket client = connect(rig.front(app.address()))) {
            // The client reads nothing: what the app got rid of must stop growing, well short of all of it.
            assertThat(plateau(written)).as("bytes the app got rid of while nobody read").isLessThan(MANY / 2);
            client.shutdownOutput();
            assertThat(drain(client.getInputStream())).isEqualTo(MANY);
        }
    }

    @Test
    void aClientWritingManyMegabytesToAPausedAppIsHeldBackNotBuffered() throws Exception {
        CountDownLatch resume = new CountDownLatch(1);
        AtomicLong appGot = new AtomicLong();
        try (AppServer app = AppServer.start(s -> {
                resume.await();
                appGot.set(drain(s.getInputStream()));
                s.shutdownOutput();
            });
             TunnelRig rig = TunnelRig.plain();
             Socket client = connect(rig.front(app.address()))) {
            AtomicLong written = new AtomicLong();
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    byte[] chunk = random(64 * 1024, 4);
                    for (int sent = 0; sent < MANY; sent += chunk.length) {
                        client.getOutputStream().write(chunk);
                        written.addAndGet(chunk.length);
                    }
                    client.shutdownOutput();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertThat(plateau(written)).as("bytes the client got rid of while the app read nothing")
                    .isLessThan(MANY / 2);
            resume.countDown();
            writer.join();
            assertThat(client.getInputStream().read()).isEqualTo(-1);
            assertThat(appGot).hasValue(MANY);
        }
    }

    @Test
    void anIdleConnectionIsReleasedAndABusyOneIsNot() throws Exception {
        TunnelSettings quick = TunnelSettings.defaults().withIdleRelease(Duration.ofMillis(300));
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(quick, TunnelSettings.defaults(), new PlaintextSecurity(TunnelRig.SOURCE),
                     io.nodemesh.proxy.tunnel.TunnelAuthorizer.ALLOW_ALL)) {
            InetSocketAddress front = rig.front(app.address());
            try (Socket quiet = connect(front)) {
                Thread.sleep(1000); // a stream open on it, no bytes: not idle
                byte[] sent = random(10_000, 5);
                assertThat(exchange(quiet, sent)).isEqualTo(sent);
            }
            assertThat(rig.tunnelConnections).hasValue(1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (rig.pool.connectionCount() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(rig.pool.connectionCount()).as("pooled connections after the idle release").isZero();
            try (Socket next = connect(front)) {
                byte[] sent = random(10_000, 6);
                assertThat(exchange(next, sent)).isEqualTo(sent);
            }
            assertThat(rig.tunnelConnections).as("a new connection after the release").hasValue(2);
        }
    }

    @Test
    void aPeerThatStopsAnsweringPingsIsTakenForDead() throws Exception {
        TunnelSettings pingy = TunnelSettings.defaults().withPing(Duration.ofMillis(200), Duration.ofMillis(300));
        try (TunnelRig rig = TunnelRig.plain()) {
            // An HTTP/2 server that answers the handshake and then nothing: no PING ACK, no answer to CONNECT.
            Channel mute = new ServerBootstrap().group(rig.group).channel(EpollServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().autoAckPingFrame(false).build(),
                                    new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                                        @Override
                                        protected void initChannel(Http2StreamChannel stream) {
                                        }
                                    }));
                        }
                    })
                    .bind(new InetSocketAddress(TunnelRig.LOOPBACK, 0)).sync().channel();
            try (TunnelPool pool = new TunnelPool(pingy.withPort(((InetSocketAddress) mute.localAddress()).getPort()),
                    new PlaintextSecurity(TunnelRig.SOURCE), () -> new Bootstrap().channel(EpollSocketChannel.class),
                    new TunnelStats())) {
                long start = System.nanoTime();
                Future<Http2StreamChannel> open = pool.openStream(key(new InetSocketAddress(TunnelRig.LOOPBACK, 9)),
                        null, rig.group.next(), new ChannelInboundHandlerAdapter());
                assertThat(open.await(5, TimeUnit.SECONDS)).isTrue();
                assertThat(open.isSuccess()).isFalse();
                assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(400L, 3000L);
                assertThat(pool.connectionCount()).isZero();
            } finally {
                mute.close().sync();
            }
        }
    }

    @Test
    void aLivePeerAnswersPingsAndItsQuietConnectionStays() throws Exception {
        TunnelSettings pingy = TunnelSettings.defaults().withPing(Duration.ofMillis(100), Duration.ofMillis(200));
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(pingy, TunnelSettings.defaults(), new PlaintextSecurity(TunnelRig.SOURCE),
                     TunnelAuthorizer.ALLOW_ALL);
             Socket quiet = connect(rig.front(app.address()))) {
            Thread.sleep(1500); // many PING rounds, no data
            byte[] sent = random(10_000, 7);
            assertThat(exchange(quiet, sent)).isEqualTo(sent);
            assertThat(rig.tunnelConnections).hasValue(1);
        }
    }

    @Test
    void aServerThatNeverAnswersTheHandshakeFailsTheOpenAsAConnectTimeout() throws Exception {
        TunnelSettings impatient = TunnelSettings.defaults().withConnectTimeout(Duration.ofMillis(300));
        try (ServerSocket silent = new ServerSocket(0, 10, TunnelRig.LOOPBACK);
             TunnelRig rig = TunnelRig.plain();
             TunnelPool pool = new TunnelPool(impatient.withPort(silent.getLocalPort()),
                     new PlaintextSecurity(TunnelRig.SOURCE), () -> new Bootstrap().channel(EpollSocketChannel.class),
                    new TunnelStats())) {
            long start = System.nanoTime();
            Future<Http2StreamChannel> open = pool.openStream(key(new InetSocketAddress(TunnelRig.LOOPBACK, 9)), null,
                    rig.group.next(), new ChannelInboundHandlerAdapter());
            assertThat(open.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(open.cause()).isInstanceOf(ConnectTimeoutException.class);
            assertThat(Outcomes.ofConnectFailure(open.cause())).isEqualTo(Outcome.CONNECT_TIMEOUT);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isBetween(250L, 2000L);
            assertThat(pool.connectionCount()).isZero();
        }
    }

    /**
     * Where {@code written} stops growing: two samples half a second apart within 256 KiB of each other (buffers full,
     * the writer held back). Fails if it still grows after 15 s, which a writer that is not held back does.
     */
    private static long plateau(AtomicLong written) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        long before = written.get();
        while (System.nanoTime() < deadline) {
            Thread.sleep(500);
            long now = written.get();
            if (now > 0 && now - before < 256 * 1024) {
                return now;
            }
            before = now;
        }
        throw new AssertionError("the writer was never held back: " + written.get() + " bytes written and growing");
    }

    private static TunnelKey key(InetSocketAddress destination) {
        return new TunnelKey(TunnelRig.SOURCE, TunnelRig.DESTINATION, destination);
    }

    private static long drain(InputStream in) throws java.io.IOException {
        byte[] buf = new byte[256 * 1024];
        long total = 0;
        int n;
        while ((n = in.read(buf)) >= 0) {
            total += n;
        }
        return total;
    }

}
