package io.nodemesh.proxy.identity;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Real TLS 1.3 handshakes over loopback between two Netty channels, each side with its own {@link MeshTls}. */
class MeshTlsTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private static final SpiffeId CLIENT = new SpiffeId("cluster.local", "pay", "payments");
    private static final SpiffeId SERVER = new SpiffeId("cluster.local", "web", "frontend");

    private static EventLoopGroup group;
    private static MeshCa mesh;

    private final BlockingQueue<Object> serverSaw = new LinkedBlockingQueue<>();
    private Channel listener;

    @BeforeAll
    static void start() {
        group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
        mesh = MeshCa.create("cluster.local", Duration.ofDays(1));
    }

    @AfterAll
    static void stop() {
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @AfterEach
    void closeListener() {
        if (listener != null) {
            listener.close().syncUninterruptibly();
        }
    }

    @Test
    void bothSidesProveTheirSpiffeIdsOverTls13WithH2() throws Exception {
        InetSocketAddress server = serve(MeshTls.of(mesh.issue(SERVER, Duration.ofHours(1))));
        Client client = handshake(MeshTls.of(mesh.issue(CLIENT, Duration.ofHours(1))), server, SERVER);

        assertThat(client.tls().handshakeFuture().cause()).isNull();
        assertThat(client.tls().applicationProtocol()).isEqualTo("h2");
        assertThat(client.tls().engine().getSession().getProtocol()).isEqualTo("TLSv1.3");
        assertThat(MeshTls.peerIdentity(client.tls().engine().getSession())).isEqualTo(SERVER);
        assertThat(serverSaw.poll(5, TimeUnit.SECONDS)).isEqualTo(CLIENT);
        client.channel().close().sync();
    }

    @Test
    void aClientRefusesAServerThatIsNotTheExpectedDestination() throws Exception {
        InetSocketAddress server = serve(MeshTls.of(mesh.issue(SERVER, Duration.ofHours(1))));
        MeshTls tls = MeshTls.of(mesh.issue(CLIENT, Duration.ofHours(1)));
        assertThat(handshake(tls, server, SERVER).tls().handshakeFuture().cause()).isNull();
        serverSaw.clear();

        // The same client contexts, the same server: the second connection is verified afresh (no resumption).
        SpiffeId other = new SpiffeId("cluster.local", "web", "admin");
        Client refused = handshake(tls, server, other);
        assertThat(refused.tls().handshakeFuture().cause()).hasStackTraceContaining(
                "the server is " + SERVER + ", expected " + other);
    }

    @Test
    void aServerRefusesAClientOfAForeignCa() throws Exception {
        InetSocketAddress server = serve(MeshTls.of(mesh.issue(SERVER, Duration.ofHours(1))));
        MeshCa foreign = MeshCa.create("cluster.local", Duration.ofDays(1));
        Client client = handshake(MeshTls.of(trusting(mesh, foreign.issue(CLIENT, Duration.ofHours(1)))), server, SERVER);

        // In TLS 1.3 the client finishes before the server has judged its certificate; the server's alert follows.
        assertThat(serverRefusal()).hasStackTraceContaining("does not chain to the mesh CA");
        assertThat(client.channel().closeFuture().await(5, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aClientRefusesAServerOfAForeignCa() throws Exception {
        MeshCa foreign = MeshCa.create("cluster.local", Duration.ofDays(1));
        InetSocketAddress server = serve(MeshTls.of(foreign.issue(SERVER, Duration.ofHours(1))));
        Client client = handshake(MeshTls.of(mesh.issue(CLIENT, Duration.ofHours(1))), server, SERVER);

        assertThat(client.tls().handshakeFuture().cause()).hasStackTraceContaining("does not chain to the mesh CA");
    }

    @Test
    void aClientRefusesAPeerOfAnotherTrustDomainEvenWhenItTrustsItsCa() throws Exception {
        MeshCa otherDomain = MeshCa.create("other.org", Duration.ofDays(1));
        SpiffeId stranger = new SpiffeId("other.org", "web", "frontend");
        InetSocketAddress server = serve(MeshTls.of(trusting(mesh, otherDomain.issue(stranger, Duration.ofHours(1)))));
        // A client that trusts both CAs still takes only identities of its own trust domain.
        IssuedCertificate own = mesh.issue(CLIENT, Duration.ofHours(1));
        Client client = handshake(MeshTls.of(new IssuedCertificate(own.identity(), own.key(), own.chain(),
                List.of(mesh.certificate(), otherDomain.certificate()))), server, SERVER);

        assertThat(client.tls().handshakeFuture().cause())
                .hasStackTraceContaining("the peer " + stranger + " is not of trust domain cluster.local");
    }

    @Test
    void aServerRefusesAnExpiredClientCertificate(@TempDir Path dir) throws Exception {
        mesh.write(dir, false);
        // A CA whose clock is 50 s behind issues a 1 s certificate: expired when it is presented.
        MeshCa behind = MeshCa.load(dir, "cluster.local", Clock.offset(Clock.systemUTC(), Duration.ofSeconds(-50)));
        InetSocketAddress server = serve(MeshTls.of(mesh.issue(SERVER, Duration.ofHours(1))));
        handshake(MeshTls.of(behind.issue(CLIENT, Duration.ofSeconds(1))), server, SERVER);

        assertThat(serverRefusal()).hasStackTraceContaining("the peer's certificate has expired");
    }

    @Test
    void aServerRefusesPlaintextAndKeepsServing() throws Exception {
        InetSocketAddress server = serve(MeshTls.of(mesh.issue(SERVER, Duration.ofHours(1))));
        try (Socket plain = new Socket(server.getAddress(), server.getPort())) {
            plain.getOutputStream().write("CONNECT 10.0.0.1:80 HTTP/1.1\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            plain.setSoTimeout(5000);
            assertThat(serverSaw.poll(5, TimeUnit.SECONDS)).isInstanceOf(Throwable.class);
        }
        Client client = handshake(MeshTls.of(mesh.issue(CLIENT, Duration.ofHours(1))), server, SERVER);
        assertThat(client.tls().handshakeFuture().cause()).isNull();
        assertThat(serverSaw.poll(5, TimeUnit.SECONDS)).isEqualTo(CLIENT);
    }

    /** What the server's handshake failed with. */
    private Throwable serverRefusal() throws InterruptedException {
        return (Throwable) serverSaw.poll(5, TimeUnit.SECONDS);
    }

    /** {@code issued}, trusting {@code ca} instead of its own issuer: a stranger that gets past its own checks. */
    private static IssuedCertificate trusting(MeshCa ca, IssuedCertificate issued) {
        return new IssuedCertificate(issued.identity(), issued.key(), issued.chain(), List.of(ca.certificate()));
    }

    /** Listens on loopback; every accepted connection puts its handshake's outcome (peer id or cause) on {@link #serverSaw}. */
    private InetSocketAddress serve(MeshTls tls) throws InterruptedException {
        listener = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        ch.pipeline().addLast(tls.newServerHandler(ch.alloc()), new ChannelInboundHandlerAdapter() {
                            @Override
                            public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
                                if (evt instanceof SslHandshakeCompletionEvent done) {
                                    serverSaw.add(done.isSuccess() ? MeshTls.peerIdentity(
                                            ctx.pipeline().get(SslHandler.class).engine().getSession()) : done.cause());
                                }
                                ctx.fireUserEventTriggered(evt);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                })
                .bind(InetAddress.getLoopbackAddress(), 0).sync().channel();
        return (InetSocketAddress) listener.localAddress();
    }

    /** A client connection and its TLS handler. */
    private record Client(Channel channel, SslHandler tls) {
    }

    /** Connects with {@code tls} expecting {@code expected} and waits for the client's handshake to end. */
    private static Client handshake(MeshTls tls, InetSocketAddress server, SpiffeId expected)
            throws InterruptedException {
        SslHandler[] handler = new SslHandler[1];
        Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                .handler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        handler[0] = tls.newClientHandler(ch.alloc(), expected);
                        ch.pipeline().addLast(handler[0], new ChannelInboundHandlerAdapter() {
                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                })
                .connect(server).sync().channel();
        assertThat(handler[0].handshakeFuture().await(5, TimeUnit.SECONDS)).isTrue();
        return new Client(ch, handler[0]);
    }
}
