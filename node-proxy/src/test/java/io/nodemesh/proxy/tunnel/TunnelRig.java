package io.nodemesh.proxy.tunnel;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
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
import io.nodemesh.proxy.relay.UpstreamConnector;
import io.nodemesh.proxy.stats.TunnelStats;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Both ends of a tunnel on loopback, wired as the proxy wires them: a "front" listener stands for a pod's outbound
 * capture (each accepted connection is a {@link Connection} whose upstream is a tunnel stream), a {@link TunnelServer}
 * splices streams to the app through a plain connect. Two event loops, so streams and app connections meet across
 * loops as they do in the proxy. Everything it started ends at {@link #close}.
 */
final class TunnelRig implements AutoCloseable {

    static final SpiffeId SOURCE = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "a", "client");
    static final SpiffeId DESTINATION = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "b", "server");
    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    /** The proxy's own epoll loops (with its workaround for Netty's empty-interest bug, which half-closes hit). */
    final EventLoopGroup group = Transport.select(TransportKind.EPOLL, notice -> { }).newEventLoopGroup(2, "tunnel-test");
    /** What the front side's connections ended with (the app's client's view), and the server's streams. */
    final Outcomes front = new Outcomes();
    final Outcomes server = new Outcomes();
    /** Tunnel connections the server accepted, and the clients the authorizer was asked about. */
    final AtomicInteger tunnelConnections = new AtomicInteger();
    /** The tunnel connections the server accepted, as channels. */
    final List<Channel> serverTunnels = new CopyOnWriteArrayList<>();
    final List<InetSocketAddress> askedFor = new CopyOnWriteArrayList<>();
    /** The peers' proven identities, as the authorizer was told them (null: none). */
    final List<SpiffeId> peers = new CopyOnWriteArrayList<>();
    /** The tunnel's counters, both sides. */
    final TunnelStats stats = new TunnelStats();
    final TunnelPool pool;
    final InetSocketAddress tunnelAddress;
    private final Channel serverChannel;
    private final Channel frontChannel;
    private volatile InetSocketAddress target;

    TunnelRig(TunnelSettings clientSettings, TunnelSettings serverSettings, TunnelSecurity security,
              TunnelAuthorizer authorizer) throws InterruptedException {
        TunnelServer tunnelServer = new TunnelServer(serverSettings, security, (peer, client, destination) -> {
            askedFor.add(client);
            peers.add(peer);
            return authorizer.deny(peer, client, destination);
        }, new PodUpstream(loop -> new Bootstrap().group(loop)
                .channel(EpollSocketChannel.class)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 2000)), server, stats);
        serverChannel = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        tunnelConnections.incrementAndGet();
                        serverTunnels.add(ch);
                        ch.pipeline().addLast(tunnelServer);
                    }
                })
                .bind(new InetSocketAddress(LOOPBACK, 0)).sync().channel();
        tunnelAddress = (InetSocketAddress) serverChannel.localAddress();
        pool = new TunnelPool(clientSettings.withPort(tunnelAddress.getPort()), security,
                () -> new Bootstrap().channel(EpollSocketChannel.class).option(ChannelOption.TCP_NODELAY, true), stats);
        TunnelUpstream tunnel = new TunnelUpstream(pool, SOURCE);
        frontChannel = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInitializer<>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ChannelConnection connection = new ChannelConnection(Direction.OUTBOUND, ch, front);
                        connection.opened(target);
                        ch.pipeline().addLast(new UpstreamConnector(connection,
                                (c, loop, relay) -> tunnel.connect(c, DESTINATION, c.destination(), loop, relay)));
                    }
                })
                .bind(new InetSocketAddress(LOOPBACK, 0)).sync().channel();
    }

    /** A rig with the defaults, plaintext and every stream allowed. */
    static TunnelRig plain() throws InterruptedException {
        return new TunnelRig(TunnelSettings.defaults(), TunnelSettings.defaults(), new PlaintextSecurity(SOURCE),
                TunnelAuthorizer.ALLOW_ALL);
    }

    /** Where the front's connections go from now on (their original destination). */
    InetSocketAddress front(InetSocketAddress destination) {
        this.target = destination;
        return (InetSocketAddress) frontChannel.localAddress();
    }

    @Override
    public void close() throws InterruptedException {
        pool.close();
        ChannelFuture a = frontChannel.close();
        ChannelFuture b = serverChannel.close();
        a.sync();
        b.sync();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).sync();
    }

    /** Outcomes of connections, thread-safe (connections close on either loop). */
    static final class Outcomes implements ConnectionListener {

        final BlockingQueue<Outcome> closed = new LinkedBlockingQueue<>();
        final AtomicInteger opened = new AtomicInteger();

        @Override
        public void opened(Connection connection) {
            opened.incrementAndGet();
        }

        @Override
        public void closed(Connection connection, Outcome outcome, long durationNanos) {
            closed.add(outcome);
        }

        @Override
        public void notRedirected(Connection connection, String reason) {
        }

        /** The next connection's outcome, waiting up to 5 s. */
        Outcome next() throws InterruptedException {
            Outcome o = closed.poll(5, TimeUnit.SECONDS);
            if (o == null) {
                throw new AssertionError("no connection closed within 5 s");
            }
            return o;
        }
    }
}
