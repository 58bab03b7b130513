package io.nodemesh.proxy.capture;

import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.NativeInetAddress;
import io.netty.channel.unix.Socket;
import io.netty.util.concurrent.Future;
import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.OriginalDestination;
import io.nodemesh.linux.SocketOptions;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.relay.CapturedUpstream;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.IdleTimeout;
import io.nodemesh.proxy.relay.SocketConnection;
import io.nodemesh.proxy.relay.UpstreamConnector;
import io.nodemesh.proxy.relay.Way;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.rules.CaptureMode;
import io.nodemesh.rules.ConnectCapture;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Locale;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A pod's capture listener (outbound or inbound) on the epoll transport, below Netty's channel API: a listening socket
 * in the pod's namespace registered with an event loop as an {@link EpollIoHandle}. For each connection it accepts it
 * reads the original destination and asks the {@link CapturedUpstream} for the connection's {@link Way} before any
 * upstream socket is made; a plain way is relayed between two sockets ({@link SocketConnection}), the others (a tunnel
 * stream) go through a Netty channel made from the accepted socket with the pipeline {@link CaptureInitializer} would
 * have given it. A connection that was not redirected is closed and counted apart, as there. Accepted sockets inherit
 * TCP_NODELAY and, on a listener whose connections come across the network, TCP keepalive from this socket.
 *
 * <p>Under {@code capture: tproxy} the socket is transparent and carries the proxy's mark: nft's {@code tproxy} hands
 * it connections for any address, each accepted socket's own local address is the original destination (nothing was
 * translated, so there is no connection tracking to ask), and the accepted sockets inherit the mark, with which their
 * replies pass the pod's rules instead of being captured again. Under {@code capture: ebpf} the inbound listener's
 * connections are handed to it by the pod's {@code sk_lookup} program, as plain sockets: the original destination is
 * again the accepted socket's own local address; its outbound listener reads the destination from the eBPF programs'
 * map.
 */
public final class SocketListener implements EpollIoHandle {

    private static final Logger log = LoggerFactory.getLogger(SocketListener.class);

    private final Socket socket;
    private final int port;
    private final PodCapture pod;
    private final Direction direction;
    private final CapturedUpstream upstream;
    private final EventLoopGroup group;
    private final Transport transport;
    private final IoEventLoop loop;
    /**
     * {@code capture: tproxy}, and {@code ebpf}'s inbound listener: the destination is the accepted socket's local
     * address, not conntrack's answer.
     */
    private final boolean handed;
    /** {@code capture: ebpf}'s outbound listener: the destination is in the eBPF programs' map. */
    private final ConnectCapture connectCapture;
    /** Netty's form of an accepted peer's address: its length, then the address, scope and port. */
    private final byte[] acceptedAddress = new byte[26];
    private IoRegistration registration;
    private long lastAcceptWarning;

    private SocketListener(Socket socket, int port, PodCapture pod, Direction direction, CapturedUpstream upstream,
                           EventLoopGroup group, Transport transport) {
        this.socket = socket;
        this.port = port;
        this.pod = pod;
        this.direction = direction;
        this.upstream = upstream;
        this.group = group;
        this.transport = transport;
        this.loop = (IoEventLoop) group.next();
        CaptureMode capture = pod.settings().capture();
        this.handed = capture == CaptureMode.TPROXY || capture == CaptureMode.EBPF && direction == Direction.INBOUND;
        this.connectCapture = capture == CaptureMode.EBPF && direction == Direction.OUTBOUND
                ? pod.connectCapture() : null;
    }

    /**
     * Opens a listener on {@code port} in {@code namespace} (dual-stack {@code ::}, or {@code 0.0.0.0} on a kernel
     * without IPv6), transparent and marked where the pod's capture hands it connections by TPROXY
     * ({@link PodCapture#transparent}), and starts accepting.
     *
     * @throws IOException naming the port when it cannot be bound, or the option that cannot be set
     */
    public static SocketListener bind(NetworkNamespace namespace, int port, PodCapture pod, Direction direction,
                                      CapturedUpstream upstream, EventLoopGroup group, Transport transport)
            throws IOException {
        Socket socket;
        try {
            socket = namespace.call(Socket::newSocketStream);
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot create a socket in " + namespace + ": " + e.getMessage(), e);
        }
        try {
            socket.setReuseAddress(true);
            socket.setTcpNoDelay(true);
            if (PodCapture.transparent(pod.settings().capture())) {
                transparent(socket, pod.settings().mark());
            }
            try {
                socket.bind(new InetSocketAddress(InetAddress.ofLiteral("::"), port));
            } catch (IOException noIpv6) {
                socket.bind(new InetSocketAddress(InetAddress.ofLiteral("0.0.0.0"), port));
            }
            socket.listen(1024);
            return start(socket, port, pod, direction, upstream, group, transport);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Accepts on the listening socket {@code fd} the proxy before this one handed over; owns it from the call on. Under
     * a TPROXY capture it is made transparent and marked (again, if the proxy before this one captured so too).
     */
    public static SocketListener adopt(int fd, int port, PodCapture pod, Direction direction, CapturedUpstream upstream,
                                       EventLoopGroup group, Transport transport) throws IOException {
        Socket socket = new Socket(fd);
        try {
            if (PodCapture.transparent(pod.settings().capture())) {
                transparent(socket, pod.settings().mark());
            }
            return start(socket, port, pod, direction, upstream, group, transport);
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Makes {@code socket} a TPROXY listener: transparent ({@code IPV6_TRANSPARENT} too on the dual-stack socket that
     * {@link Socket#newSocketStream()} makes wherever the kernel has IPv6), and marked with the proxy's {@code mark}.
     */
    private static void transparent(Socket socket, int mark) throws IOException {
        SocketOptions.setTransparent(socket.intValue(), Socket.isIPv6Preferred());
        SocketOptions.setMark(socket.intValue(), mark);
    }

    private static SocketListener start(Socket socket, int port, PodCapture pod, Direction direction,
                                        CapturedUpstream upstream, EventLoopGroup group, Transport transport)
            throws IOException {
        SocketListener listener = new SocketListener(socket, port, pod, direction, upstream, group, transport);
        Future<IoRegistration> registered = listener.loop.register(listener).awaitUninterruptibly();
        if (!registered.isSuccess()) {
            throw new IOException("cannot register the listener on port " + port + " with its event loop: "
                    + registered.cause().getMessage(), registered.cause());
        }
        IoRegistration registration = registered.getNow();
        listener.loop.submit(() -> {
            listener.registration = registration;
            registration.submit(EpollIoOps.EPOLLIN);
        }).awaitUninterruptibly();
        return listener;
    }

    /** The port it listens on. */
    public int port() {
        return port;
    }

    /** The listening socket's descriptor (for the next proxy, and for its options); it stays this listener's. */
    public int descriptor() {
        return socket.intValue();
    }

    /** Stops accepting and closes the socket (this process's reference; a handed-over copy listens on). Blocks. */
    public void close() {
        if (loop.inEventLoop()) {
            closeOnLoop();
            return;
        }
        try {
            loop.submit(this::closeOnLoop).awaitUninterruptibly();
        } catch (RejectedExecutionException loopGone) {
            closeOnLoop();
        }
    }

    private void closeOnLoop() {
        if (registration != null) {
            registration.cancel();
            registration = null;
        }
        try {
            socket.close();
        } catch (IOException ignored) {
            // already closed
        }
    }

    @Override
    public FileDescriptor fd() {
        return socket;
    }

    /**
     * Accepts one connection per readiness: the listener is level-triggered, so a backlog with more in it is reported
     * again on the loop's next turn, together with whatever else is ready, where accepting until the backlog is empty
     * costs a failing {@code accept4} per wakeup.
     */
    @Override
    public void handle(IoRegistration reg, IoEvent event) {
        int fd;
        try {
            fd = socket.accept(acceptedAddress);
        } catch (IOException e) {
            // EMFILE and the like: the connection waits in the backlog and the next readiness tries again, so this
            // repeats while it lasts: said once a minute.
            long now = System.nanoTime();
            if (now - lastAcceptWarning > TimeUnit.MINUTES.toNanos(1) || lastAcceptWarning == 0) {
                lastAcceptWarning = now;
                log.warn("pod {}: accept on :{} failed: {}", pod.spec().key(), port, e.getMessage());
            }
            return;
        }
        if (fd < 0) {
            return; // another loop thread or a handed-over copy took it
        }
        InetSocketAddress source = NativeInetAddress.address(acceptedAddress, 1, acceptedAddress[0]);
        IoEventLoop target = (IoEventLoop) group.next();
        if (target.inEventLoop()) {
            start(target, fd, source);
        } else {
            target.execute(() -> start(target, fd, source));
        }
    }

    /** {@link #accepted}, where a failure ends the connection instead of reaching the loop (which it would pause). */
    private void start(IoEventLoop target, int fd, InetSocketAddress source) {
        Socket accepted = new Socket(fd);
        try {
            accepted(target, accepted, source);
        } catch (RuntimeException e) {
            log.warn("pod {}: a connection from {} on :{} failed to start", pod.spec().key(), source, port, e);
            if (accepted.isOpen()) { // not closed by a connection that took it
                try {
                    accepted.close();
                } catch (IOException ignored) {
                    // nothing more to do
                }
            }
        }
    }

    /** Starts the connection accepted as {@code fd} from {@code source}, on {@code target}, its loop from now on. */
    private void accepted(IoEventLoop target, Socket accepted, InetSocketAddress source) {
        int fd = accepted.intValue();
        InetSocketAddress destination = handed ? handedDestination(target, accepted, source)
                : connectCapture != null ? connectedDestination(target, accepted, source)
                : redirectedDestination(target, accepted, source);
        if (destination == null) {
            return; // closed and counted as not redirected
        }
        if (connectCapture != null) {
            source = podSource(source, destination);
        }
        Way way;
        try {
            way = upstream.way(source, destination);
        } catch (RuntimeException e) {
            log.warn("pod {}: no way for {} -> {}: {}", pod.spec().key(), source, destination, e.toString());
            SocketConnection c = new SocketConnection(direction, target, accepted, pod);
            c.opened(source, destination);
            c.close(Outcome.ERROR);
            return;
        }
        if (way instanceof Way.Plain plain && plain.via().sockets() != null) {
            SocketConnection c = new SocketConnection(direction, target, accepted, pod);
            Way.begin(c, way);
            c.opened(source, destination);
            c.connect(plain.via().sockets(), plain.address(), pod.currentSettings().idleTimeout().toMillis());
        } else if (way instanceof Way.Refused refused) {
            SocketConnection c = new SocketConnection(direction, target, accepted, pod);
            Way.begin(c, way);
            c.opened(source, destination);
            c.refuse(refused.reason());
        } else {
            throughChannel(target, fd, source, destination, way);
        }
    }

    /**
     * The original destination of a connection nat REDIRECTed to this listener, from connection tracking; null when
     * there is none, the connection then closed and counted as not redirected.
     */
    private InetSocketAddress redirectedDestination(IoEventLoop target, Socket accepted, InetSocketAddress source) {
        InetSocketAddress destination;
        try {
            // A dual-stack listener's IPv4 connections are IPv4-mapped (Java shows them as Inet4Address), and
            // conntrack answers for them under SOL_IP.
            destination = OriginalDestination.of(accepted.intValue(), !(source.getAddress() instanceof Inet4Address));
        } catch (IOException e) {
            String reason = e instanceof NativeException n && n.errno() == NativeException.ENOENT
                    ? "not redirected (no original destination)" : "original destination unreadable: " + e.getMessage();
            new SocketConnection(direction, target, accepted, pod).notRedirected(source, reason);
            return null;
        }
        // conntrack answers for untranslated connections too, with the address they were sent to: relaying that
        // would connect the proxy to itself, over and over. Only such a connection has this port as its destination
        // and this socket's own address (read only then: a system call per connection otherwise).
        if (destination.getPort() == port && destination.equals(accepted.localAddress())) {
            new SocketConnection(direction, target, accepted, pod)
                    .notRedirected(source, "not redirected (addressed to the capture port itself)");
            return null;
        }
        return destination;
    }

    /**
     * The original destination of a connection the eBPF programs sent here at its {@code connect()}: taken out of
     * their map by the pod's namespace and the client's address (one {@code bpf()} call); null when the map has none
     * (a connection addressed to this port itself, or one made before the programs were attached), the connection
     * then closed and counted as not redirected.
     */
    private InetSocketAddress connectedDestination(IoEventLoop target, Socket accepted, InetSocketAddress source) {
        InetSocketAddress destination;
        try {
            destination = connectCapture.originalDestination(pod.netnsCookie(), source);
        } catch (IOException e) {
            new SocketConnection(direction, target, accepted, pod)
                    .notRedirected(source, "original destination unreadable: " + e.getMessage());
            return null;
        }
        if (destination == null) {
            new SocketConnection(direction, target, accepted, pod)
                    .notRedirected(source, "not redirected (no original destination in the eBPF capture's map)");
        }
        return destination;
    }

    /**
     * The source to report and to forward for a connection the eBPF programs sent here: it came from loopback (the
     * programs send it to 127.0.0.1 or ::1), and its upstream will leave from the pod's own address, so that address
     * of the destination's family (telemetry, and the tunnel's {@code forwarded: for=} that the far side's policies
     * read); the client's port kept. Loopback as it was for a pod with no address of that family.
     */
    private InetSocketAddress podSource(InetSocketAddress source, InetSocketAddress destination) {
        boolean v4 = destination.getAddress() instanceof Inet4Address;
        for (InetAddress ip : pod.spec().ips()) {
            if (ip instanceof Inet4Address == v4) {
                return new InetSocketAddress(ip, source.getPort());
            }
        }
        return source;
    }

    /**
     * The original destination of a connection nft's {@code tproxy} or an {@code sk_lookup} program handed to this
     * listener: the accepted socket's own local address ({@code getsockname}); null when the connection was not
     * handed over, but addressed to this port itself, the connection then closed and counted as not redirected.
     */
    private InetSocketAddress handedDestination(IoEventLoop target, Socket accepted, InetSocketAddress source) {
        // A dual-stack listener's IPv4 connections have IPv4-mapped local addresses, which Netty (and the JDK under
        // it) turn into Inet4Address, as OriginalDestination does.
        InetSocketAddress destination = accepted.localAddress();
        if (destination == null) {
            new SocketConnection(direction, target, accepted, pod)
                    .notRedirected(source, "original destination unreadable: getsockname failed");
            return null;
        }
        // The rules never hand over a connection to this port (they let it through uncaptured): one that came was
        // addressed to the listener itself, and relaying it would connect the proxy to itself, over and over.
        if (destination.getPort() == port) {
            new SocketConnection(direction, target, accepted, pod)
                    .notRedirected(source, "not redirected (addressed to the capture port itself)");
            return null;
        }
        return destination;
    }

    /**
     * A way the socket relay does not take (a tunnel stream): the accepted socket becomes a Netty channel with the
     * pipeline of {@link CaptureInitializer}, its destination and way already known.
     */
    private void throughChannel(IoEventLoop target, int fd, InetSocketAddress source, InetSocketAddress destination,
                                Way way) {
        Channel ch = transport.adoptConnected(fd); // the channel owns the descriptor from here: a failure closes it
        try {
            startChannel(ch, target, source, destination, way);
        } catch (RuntimeException e) {
            log.warn("pod {}: a connection {} -> {} failed to start", pod.spec().key(), source, destination, e);
            ch.unsafe().closeForcibly();
        }
    }

    private void startChannel(Channel ch, IoEventLoop target, InetSocketAddress source, InetSocketAddress destination,
                              Way way) {
        ch.config().setAutoRead(false);
        ch.config().setOption(ChannelOption.ALLOW_HALF_CLOSURE, true);
        ch.config().setAllocator(PooledByteBufAllocator.DEFAULT);
        ChannelConnection connection = pod.track(ch, direction);
        Way.begin(connection, way);
        connection.opened(source, destination);
        ch.pipeline()
                .addLast("idle", new IdleTimeout(connection, pod.currentSettings().idleTimeout().toMillis()))
                .addLast("upstream", new UpstreamConnector(connection,
                        (c, l, handler) -> upstream.connect(c, way, l, handler)));
        target.register(ch).addListener(f -> {
            if (!f.isSuccess()) {
                log.warn("pod {}: a connection {} -> {} could not be registered: {}", pod.spec().key(), source,
                        destination, f.cause().toString());
                ch.close();
            }
        });
    }

    @Override
    public String toString() {
        return "socket listener :" + port + " (" + direction.name().toLowerCase(Locale.ROOT) + ") of pod "
                + pod.spec().key();
    }
}
