package io.nodemesh.proxy.transport;

import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.unix.Socket;
import io.netty.channel.unix.UnixChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.OriginalDestination;
import io.nodemesh.linux.SocketOptions;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.inpod.NamespacedChannelFactory;
import io.nodemesh.proxy.relay.UpstreamSockets;
import java.io.IOException;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.IntSupplier;
import java.util.function.Supplier;

/**
 * The Netty transport the proxy runs on (epoll, io_uring or NIO), chosen once at start-up from what
 * was asked for and what the kernel offers, with everything that differs between them: the event
 * loop's I/O handler, how channels are constructed, the socket mark and the original destination.
 */
public final class Transport {

    private final TransportKind kind;

    private Transport(TransportKind kind) {
        this.kind = kind;
    }

    /**
     * The transport to use for {@code requested}, falling back (io_uring → epoll → NIO) when the kernel or
     * platform lacks it; every fallback and every limitation is told to {@code notice} with its cause.
     */
    public static Transport select(TransportKind requested, Consumer<String> notice) {
        TransportKind kind = requested;
        if (kind == TransportKind.IO_URING && !IoUring.isAvailable()) {
            notice.accept("io_uring transport is not available (" + cause(IoUring.unavailabilityCause())
                    + "); falling back to epoll");
            kind = TransportKind.EPOLL;
        }
        if (kind == TransportKind.EPOLL && !Epoll.isAvailable()) {
            notice.accept("epoll transport is not available (" + cause(Epoll.unavailabilityCause())
                    + "); falling back to NIO");
            kind = TransportKind.NIO;
        }
        if (kind == TransportKind.NIO && NioDescriptors.unavailability().isPresent()) {
            notice.accept("NIO transport: " + NioDescriptors.unavailability().get() + ". Without the sockets'"
                    + " file descriptors the original destination (SO_ORIGINAL_DST) cannot be read nor the mark"
                    + " (SO_MARK) set, so captured connections are closed and upstream connections fail");
        }
        return new Transport(kind);
    }

    private static String cause(Throwable t) {
        if (t == null) {
            return "no cause given";
        }
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root == t ? t.toString() : t + ", caused by " + root;
    }

    public TransportKind kind() {
        return kind;
    }

    /** Whether captured connections can learn their original destination on this transport. */
    public boolean readsOriginalDestination() {
        return kind != TransportKind.NIO || NioDescriptors.unavailability().isEmpty();
    }

    /** A new event-loop group of {@code threads} threads named {@code name-N}. */
    public EventLoopGroup newEventLoopGroup(int threads, String name) {
        IoHandlerFactory io = switch (kind) {
            case EPOLL -> EpollEmptyInterestWorkaround.newFactory();
            case IO_URING -> IoUringIoHandler.newFactory();
            case NIO -> NioIoHandler.newFactory();
        };
        return new MultiThreadIoEventLoopGroup(threads, new DefaultThreadFactory(name, true), io);
    }

    /** Listening channels whose sockets are created inside {@code ns}. */
    public NamespacedChannelFactory<ServerChannel> serverChannels(NetworkNamespace ns) {
        Supplier<ServerChannel> ctor = switch (kind) {
            case EPOLL -> EpollServerSocketChannel::new;
            case IO_URING -> IoUringServerSocketChannel::new;
            case NIO -> NioServerSocketChannel::new;
        };
        return new NamespacedChannelFactory<>(ns, ctor);
    }

    /**
     * Whether sockets can be handed over to (and taken from) another proxy on this transport: epoll only, whose
     * channels wrap an existing descriptor. io_uring and NIO drain instead (docs/upgrade.md).
     */
    public boolean handsOver() {
        return kind == TransportKind.EPOLL;
    }

    /** A listening channel for the listening TCP socket {@code fd} received from the proxy before this one. */
    public ServerChannel adoptListener(int fd) {
        requireHandover();
        return new EpollServerSocketChannel(fd);
    }

    /** A channel for the connected TCP socket {@code fd} received from the proxy before this one. */
    public Channel adoptConnected(int fd) {
        requireHandover();
        return new EpollSocketChannel(fd);
    }

    private void requireHandover() {
        if (!handsOver()) {
            throw new IllegalStateException("the " + this + " transport cannot take sockets over; only epoll can");
        }
    }

    /**
     * Connecting channels whose sockets are created inside {@code ns} and carry the packet mark
     * {@code mark} before they connect (the redirect rules let marked traffic through; unmarked, the
     * proxy's own upstream connections would be captured again), while {@code marked} says so when a socket is made
     * ({@code capture: ebpf} once its rules are in: nothing in the pod tells sockets apart by their mark), and TCP
     * keepalive as {@code keepalive} says. Both are set through the socket's file descriptor on every transport,
     * so a socket that cannot be marked fails its connection attempt instead of connecting unmarked (a
     * Bootstrap option would only log a warning).
     */
    public NamespacedChannelFactory<Channel> socketChannels(NetworkNamespace ns, int mark, BooleanSupplier marked,
                                                            Supplier<TcpKeepalive> keepalive) {
        Supplier<Channel> ctor = switch (kind) {
            case EPOLL -> EpollSocketChannel::new;
            case IO_URING -> IoUringSocketChannel::new;
            case NIO -> NioSocketChannel::new;
        };
        return new NamespacedChannelFactory<>(ns, ctor, ch -> markAndKeepalive(fd(ch), mark, marked, keepalive),
                "set the mark 0x" + Integer.toHexString(mark) + " (SO_MARK) and TCP keepalive");
    }

    /**
     * Whether captured connections with a plain way are relayed between sockets below Netty's channel API
     * ({@code relay.SocketConnection}): on epoll, whose loops take such sockets as they are.
     */
    public boolean relaysSockets() {
        return kind == TransportKind.EPOLL;
    }

    /**
     * The upstream sockets of {@code relay.SocketConnection}s from the pod in {@code ns}: made inside it, marked with
     * {@code mark} (while {@code marked} says so) and given TCP keepalive as {@code keepalive} says before they
     * connect, as {@link #socketChannels} makes channels; null where this transport does not relay sockets.
     */
    public UpstreamSockets upstreamSockets(NetworkNamespace ns, int mark, BooleanSupplier marked,
                                           Supplier<TcpKeepalive> keepalive, IntSupplier connectTimeoutMillis) {
        if (!relaysSockets()) {
            return null;
        }
        return new UpstreamSockets() {
            @Override
            public Socket open(InetSocketAddress destination) throws IOException {
                Socket socket;
                try {
                    boolean ipv6 = destination.getAddress() instanceof Inet6Address;
                    socket = ns.call(() -> StreamSockets.open(ipv6));
                } catch (IOException | RuntimeException e) {
                    throw e;
                } catch (Exception e) {
                    throw new IOException("cannot create a socket in " + ns + ": " + e.getMessage(), e);
                }
                try {
                    markAndKeepalive(socket.intValue(), mark, marked, keepalive);
                    socket.setTcpNoDelay(true);
                } catch (IOException | RuntimeException e) {
                    socket.close();
                    throw new IOException("cannot set the mark 0x" + Integer.toHexString(mark)
                            + " (SO_MARK) and TCP keepalive on a new socket in " + ns + ", so it was closed unused: "
                            + e.getMessage(), e);
                }
                return socket;
            }

            @Override
            public int connectTimeoutMillis() {
                return connectTimeoutMillis.getAsInt();
            }
        };
    }

    /**
     * Sets (or, when it is off, clears) TCP keepalive on the listening channel {@code listener}: the connections it
     * accepts from then on inherit it from the kernel, with no system call of their own.
     */
    public void keepalive(Channel listener, TcpKeepalive keepalive) throws IOException {
        keepalive(fd(listener), keepalive);
    }

    /** {@link #keepalive(Channel, TcpKeepalive)} for the listening socket {@code fd}. */
    public static void keepalive(int fd, TcpKeepalive keepalive) throws IOException {
        if (keepalive.enabled()) {
            setKeepalive(fd, keepalive);
        } else {
            SocketOptions.clearKeepalive(fd);
        }
    }

    /** What a new upstream socket gets before it connects: the mark while {@code marked} says so, and keepalive. */
    private static void markAndKeepalive(int fd, int mark, BooleanSupplier marked, Supplier<TcpKeepalive> keepalive)
            throws IOException {
        if (marked.getAsBoolean()) {
            SocketOptions.setMark(fd, mark);
        }
        TcpKeepalive k = keepalive.get();
        if (k.enabled()) {
            setKeepalive(fd, k);
        }
    }

    private static void setKeepalive(int fd, TcpKeepalive k) throws IOException {
        SocketOptions.setKeepalive(fd, k.timeSeconds(), k.intervalSeconds(), k.probes());
    }

    /** The file descriptor of {@code ch}'s socket. */
    private int fd(Channel ch) throws IOException {
        if (ch instanceof UnixChannel unix) {
            return unix.fd().intValue();
        }
        try {
            return NioDescriptors.fd(ch);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw new IOException("the " + kind.configName() + " transport cannot reach the socket of " + ch + ": "
                    + e.getMessage(), e);
        }
    }

    /**
     * Where the accepted connection {@code ch} was headed before netfilter redirected it.
     *
     * @throws io.nodemesh.linux.NativeException with ENOENT when it was not redirected
     * @throws IOException when the transport cannot tell (NIO without {@link NioDescriptors})
     */
    public InetSocketAddress originalDestination(Channel ch) throws IOException {
        int fd = fd(ch);
        // A dual-stack listener's IPv4 connections are IPv4-mapped; Java shows them as Inet4Address
        // and conntrack answers for them under SOL_IP.
        boolean ipv6 = ch.localAddress() instanceof InetSocketAddress local && local.getAddress() instanceof Inet6Address;
        return OriginalDestination.of(fd, ipv6);
    }

    @Override
    public String toString() {
        return kind.configName();
    }
}
