package io.nodemesh.proxy.inpod;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.SocketOptions;
import io.nodemesh.proxy.capture.CaptureInitializer;
import io.nodemesh.proxy.capture.SocketListener;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.identity.IdentityManager;
import io.nodemesh.proxy.inbound.InboundUpstream;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.outbound.OutboundUpstream;
import io.nodemesh.proxy.policy.Authorizer;
import io.nodemesh.proxy.policy.Peer;
import io.nodemesh.proxy.relay.CapturedUpstream;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.ConnectionListener;
import io.nodemesh.proxy.relay.MovedConnection;
import io.nodemesh.proxy.relay.SocketConnection;
import io.nodemesh.proxy.upgrade.HandoverSocket;
import io.nodemesh.proxy.upgrade.InheritedPod;
import io.nodemesh.proxy.route.RouteDecider;
import io.nodemesh.proxy.stats.DirectionStats;
import io.nodemesh.proxy.stats.NodeStats;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.telemetry.ConnectionSink;
import io.nodemesh.proxy.telemetry.OpenedConnection;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.tunnel.TlsSecurity;
import io.nodemesh.proxy.tunnel.TunnelPool;
import io.nodemesh.proxy.tunnel.TunnelSecurity;
import io.nodemesh.proxy.tunnel.TunnelServer;
import io.nodemesh.proxy.tunnel.TunnelSettings;
import io.nodemesh.proxy.tunnel.TunnelUpstream;
import io.nodemesh.rules.CaptureMode;
import io.nodemesh.rules.ConnectCapture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Capture of one pod: its listeners (opened inside the pod's network namespace), the connections
 * they accepted, and their counters. Opened and closed by the reconciler thread; the connections
 * live on the event loops.
 */
public final class PodCapture implements ConnectionListener {

    private static final Logger log = LoggerFactory.getLogger(PodCapture.class);
    private static final Logger connectionLog = LoggerFactory.getLogger("io.nodemesh.proxy.connections");

    /** Where a pod's capture is in its life. */
    public enum State { STARTING, LISTENING, FAILED, DRAINING, STOPPED }

    /**
     * What the node provides to every pod's capture. With {@code identities} (a mesh CA configured) meshed traffic
     * rides the mutual-TLS tunnel: each pod gets a tunnel pool and a tunnel server on :15008; without, it stays plain.
     */
    public record Shared(Transport transport, EventLoopGroup group, Supplier<MeshSnapshot> snapshot,
                         RouteDecider routes, ConnectionSink sink, NodeStats node, IdentityManager identities,
                         ConnectCapture connect, Function<String, InheritedPod> inherited) {

        /** Without a proxy before this one: every pod's listeners are opened here. */
        public Shared(Transport transport, EventLoopGroup group, Supplier<MeshSnapshot> snapshot, RouteDecider routes,
                      ConnectionSink sink, NodeStats node, IdentityManager identities) {
            this(transport, group, snapshot, routes, sink, node, identities, ConnectCapture.open(), key -> null);
        }
    }

    private final PodSpec spec;
    private final ProxySettings settings;
    private final Shared shared;
    private final DirectionStats outbound = new DirectionStats();
    private final DirectionStats inbound = new DirectionStats();
    private final java.util.concurrent.atomic.LongAdder notRedirected = new java.util.concurrent.atomic.LongAdder();
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final List<Channel> listeners = new ArrayList<>();
    /** The outbound and inbound listeners on epoll, below Netty's channel API (guarded by {@link #listeners}). */
    private final List<SocketListener> socketListeners = new ArrayList<>();
    private final CompletableFuture<Void> drained = new CompletableFuture<>();
    private volatile State state = State.STARTING;
    private volatile String lastError;
    private volatile CaptureFailure failure;
    private volatile NetworkNamespace namespace;
    /** {@code capture: ebpf}: the pod's namespace cookie, the peer map's key with a connection's client address. */
    private volatile long netnsCookie;
    /** Connections across the network (plain outbound, the tunnel's): the mark ({@link #marking}) and TCP keepalive. */
    private volatile Bootstrap networkTemplate;
    /** Connections to the pod's own apps (inbound, the tunnel server's streams): the mark ({@link #marking}) only. */
    private volatile Bootstrap appTemplate;
    /** The listeners whose connections come across the network (inbound, tunnel): TCP keepalive on them. */
    private final Set<Channel> networkListeners = ConcurrentHashMap.newKeySet();
    private final Set<SocketListener> networkSocketListeners = ConcurrentHashMap.newKeySet();
    private volatile TunnelPool tunnels;
    private volatile TunnelServer tunnelServer;
    private volatile boolean draining;
    /** {@code capture: ebpf} with its rules in: upstream sockets are made without the mark ({@link #rulesInstalled}). */
    private volatile boolean unmarked;
    /** Ports whose listeners the proxy before this one handed over. */
    private final Set<Integer> adoptedPorts = ConcurrentHashMap.newKeySet();
    private InheritedPod inherited;

    public PodCapture(PodSpec spec, ProxySettings settings, Shared shared) {
        this.spec = spec;
        this.settings = settings;
        this.shared = shared;
    }

    public PodSpec spec() {
        return spec;
    }

    public State state() {
        return state;
    }

    public String lastError() {
        return lastError;
    }

    /** The pod's capture as the admin API and the metrics show it. */
    public CaptureState captureState() {
        return switch (state) {
            case STARTING -> CaptureState.PENDING;
            case LISTENING -> CaptureState.CAPTURED;
            case FAILED -> CaptureState.failed(failure);
            case DRAINING, STOPPED -> CaptureState.RELEASED;
        };
    }

    public Transport transport() {
        return shared.transport();
    }

    /**
     * Under {@code capture: ebpf}, the maps of the programs already on the pod's cgroup (a takeover, a restart), taken
     * before the listeners accept: connections come to them at once, and their destinations are in those maps. A
     * failure here is said again, with its reason, when the rules are installed.
     */
    private void adoptConnectMaps() {
        if (spec.cgroup() == null) {
            return;
        }
        try {
            shared.connect().adopt(spec.cgroup());
        } catch (RuntimeException e) {
            log.debug("pod {}: the eBPF capture's maps could not be taken over before listening: {}", spec.key(),
                    e.getMessage());
        }
    }

    /**
     * Whether the capture listeners are transparent under {@code capture}: under tproxy only (ebpf's outbound
     * connections come to loopback, its inbound ones are handed to the listener by the kernel's socket lookup).
     */
    public static boolean transparent(CaptureMode capture) {
        return capture == CaptureMode.TPROXY;
    }

    /** The proxy's eBPF capture, whose map {@code capture: ebpf}'s outbound listener reads. */
    public ConnectCapture connectCapture() {
        return shared.connect();
    }

    /** {@code capture: ebpf}: the cookie of the pod's network namespace (0 under the other captures). */
    public long netnsCookie() {
        return netnsCookie;
    }

    /** The settings in force now (timeouts may change without reopening the pod). */
    public ProxySettings currentSettings() {
        return shared.snapshot().get().proxy();
    }

    /**
     * The settings this capture was opened under: its ports, mark, rules and capture mode, which do not change while it
     * lives (a change of them captures the pod anew, {@link ProxySettings#podsAffectedBy}).
     */
    public ProxySettings settings() {
        return settings;
    }

    /**
     * Enters the pod's namespace and opens the outbound and inbound listeners there.
     *
     * @throws IOException naming the pod and what failed; the pod is then {@link State#FAILED}
     */
    public void open() throws IOException {
        CaptureFailure stage = CaptureFailure.NETNS_NOT_FOUND;
        inherited = shared.inherited().apply(spec.key());
        try {
            NetworkNamespace handed = inherited == null ? null : inherited.takeNamespace();
            if (handed != null) {
                namespace = handed; // the same namespace, by the descriptor the proxy before this one held
            } else if (spec.netns() == null) {
                throw new IOException("its network namespace was not found (no namespace on this node has "
                        + spec.ips().stream().map(InetAddress::getHostAddress).toList() + ")");
            } else {
                namespace = NetworkNamespace.open(spec.netns());
            }
            if (settings.capture() == CaptureMode.EBPF) {
                netnsCookie = namespace.cookie();
                adoptConnectMaps();
            }
            stage = CaptureFailure.LISTEN_FAILED;
            networkTemplate = upstreamTemplate(namespace, () -> currentSettings().keepalive());
            appTemplate = upstreamTemplate(namespace, TcpKeepalive::off);
            Transport transport = shared.transport();
            PodUpstream direct = new PodUpstream(
                    new UpstreamBootstraps(networkTemplate, this::connectTimeoutMillis)::on,
                    transport.upstreamSockets(namespace, settings.mark(), this::marking,
                            () -> currentSettings().keepalive(), this::connectTimeoutMillis));
            PodUpstream app = new PodUpstream(new UpstreamBootstraps(appTemplate, this::connectTimeoutMillis)::on,
                    transport.upstreamSockets(namespace, settings.mark(), this::marking, TcpKeepalive::off,
                            this::connectTimeoutMillis));
            SpiffeId self = shared.identities() == null ? null
                    : new SpiffeId(shared.identities().trustDomain(), spec.namespace(), spec.serviceAccount());
            TunnelUpstream tunnel = self == null ? null : openTunnel(self, app);
            CapturedUpstream outboundUpstream =
                    new OutboundUpstream(shared.snapshot(), shared.routes(), spec, direct, tunnel);
            capture(settings.outboundPort(), Direction.OUTBOUND, outboundUpstream, "outbound", false);
            CapturedUpstream inboundUpstream = new InboundUpstream(shared.snapshot(), spec, self, app);
            capture(settings.inboundPort(), Direction.INBOUND, inboundUpstream, "inbound", true);
            state = State.LISTENING;
            log.info("pod {}: {} on :{} (outbound) and :{} (inbound){}, capture {}, in {}", spec.key(),
                    rulesInherited() ? "took over the listeners" : "listening",
                    settings.outboundPort(), settings.inboundPort(),
                    tunnel == null ? "" : " and :" + TunnelSettings.PORT + " (tunnel)",
                    settings.capture().configName(), spec.netns());
        } catch (IOException | RuntimeException e) {
            failed(classify(stage, e), "cannot capture pod " + spec.key() + ": " + e.getMessage());
            throw e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        } finally {
            if (inherited != null) {
                inherited.close(); // what the settings here do not use
            }
        }
    }

    /**
     * Whether this capture took over the listeners the proxy before it opened on the pod's outbound and inbound
     * ports: the pod's redirect rules, which point at those ports, are in place and must not be rewritten (a rule
     * switch is where a connection could fail).
     */
    public boolean rulesInherited() {
        return adoptedPorts.contains(settings.outboundPort()) && adoptedPorts.contains(settings.inboundPort());
    }

    /**
     * The pod's rules are in (the capture's rules step succeeded). Under {@code capture: ebpf} nothing in the pod's
     * namespace tells the proxy's sockets apart by their mark then: no netfilter rule is left there, and the programs
     * run for the pod's cgroup only, which the proxy is not in. So its upstream sockets are made without
     * {@code SO_MARK} from now on, one system call less per connection. Until then an earlier capture's rules may still
     * be there (a takeover from a proxy that captured otherwise, a reload that switched the capture), and they let the
     * proxy's connections through by that mark.
     */
    public void rulesInstalled() {
        if (settings.capture() == CaptureMode.EBPF) {
            unmarked = true;
        }
    }

    /** Whether an upstream socket made now carries the proxy's mark. */
    private boolean marking() {
        return !unmarked;
    }

    /** What failed, from the step that was under way and the exception's type and errno (never its text). */
    private CaptureFailure classify(CaptureFailure stage, Exception e) {
        if (e instanceof RuntimeException) {
            return CaptureFailure.INTERNAL;
        }
        if (stage == CaptureFailure.NETNS_NOT_FOUND && spec.netns() != null
                && !(e instanceof NativeException n && n.errno() == NativeException.ENOENT)) {
            return CaptureFailure.NETNS_UNUSABLE; // the path is there, but it is no namespace we can enter
        }
        return stage;
    }

    /**
     * The pod's side of the mutual-TLS tunnel: a pool of tunnel connections from its namespace, as its identity, and a
     * tunnel server on :15008 in its namespace that splices authorized streams to its apps.
     */
    private TunnelUpstream openTunnel(SpiffeId self, PodUpstream app) throws IOException {
        TunnelSecurity tls = new TlsSecurity(self, shared.identities());
        TunnelSettings tunnelSettings = TunnelSettings.defaults().withConnectTimeout(currentSettings().connectTimeout());
        tunnels = new TunnelPool(tunnelSettings, tls, networkTemplate::clone, shared.node().tunnel());
        tunnelServer = new TunnelServer(tunnelSettings, tls, this::authorizeStream, app, this, shared.node().tunnel());
        listeners.add(listen(TunnelSettings.PORT, tunnelServer, "tunnel", true));
        return new TunnelUpstream(tunnels, self);
    }

    /** A tunnel stream reaches only this pod's own addresses, and only as its policies allow; null: allowed. */
    private String authorizeStream(SpiffeId peer, InetSocketAddress client, InetSocketAddress destination) {
        if (!spec.ips().contains(destination.getAddress())) {
            return destination + " is not an address of pod " + spec.key();
        }
        MeshSnapshot snapshot = shared.snapshot().get();
        String impersonation = impersonation(snapshot, peer, client.getAddress());
        if (impersonation != null) {
            return impersonation;
        }
        Authorizer.Decision decision = Authorizer.decide(snapshot, spec,
                new Peer(peer, client.getAddress(), destination.getPort()));
        return decision.allowed() ? null : decision.reason();
    }

    /**
     * Why a proven peer cannot be who it says it comes from, or null: the source address is a pod the snapshot knows
     * and the certificate names another identity (a stolen or misused certificate claiming a pod's address). An
     * address the snapshot does not know as one pod's (a pod this node has not heard of yet, a shared address) is not
     * held against a peer that proved its identity: policies still decide on the identity and the address.
     */
    static String impersonation(MeshSnapshot snapshot, SpiffeId peer, InetAddress source) {
        if (peer == null) {
            return null;
        }
        PodSpec pod = snapshot.podByIp(source).orElse(null);
        if (pod == null || pod.namespace().equals(peer.namespace()) && pod.serviceAccount().equals(peer.serviceAccount())) {
            return null;
        }
        return "identity " + peer + " is not that of the source pod " + pod.namespace() + "/" + pod.name()
                + " at " + source.getHostAddress() + " (service account " + pod.serviceAccount() + ")";
    }

    /** Marks the pod failed for {@code reason}, saying {@code message}, and releases whatever it had opened. */
    public void failed(CaptureFailure reason, String message) {
        lastError = message;
        failure = reason;
        state = State.FAILED;
        closeListeners();
        closeTunnel();
        closeNamespace();
        drained.complete(null);
    }

    /**
     * Upstream connections from the pod's namespace with the proxy's mark and TCP keepalive as {@code keepalive} says:
     * the settings' for connections across the network, off for those to the pod's own apps, which cannot vanish
     * without the kernel closing their sockets (and would cost four system calls per connection for nothing).
     */
    private Bootstrap upstreamTemplate(NetworkNamespace ns, Supplier<TcpKeepalive> keepalive) {
        return new Bootstrap()
                .channelFactory(shared.transport().socketChannels(ns, settings.mark(), this::marking, keepalive))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                // No TCP_NODELAY here or on the accepted sockets: Netty's socket configs turn it on as they are made
                // (TcpNoDelayDefaultTest), and setting it again was one more setsockopt per socket.
                .option(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT);
    }

    /** The connect timeout in force for this pod's upstream connects. */
    private int connectTimeoutMillis() {
        return (int) currentSettings().connectTimeout().toMillis();
    }

    /**
     * Opens (or takes over) the capture listener on {@code port}: below Netty's channel API where the transport relays
     * sockets ({@link SocketListener}), a Netty server channel otherwise. One whose connections come across the network
     * ({@code network}: inbound) gets TCP keepalive, which the connections it accepts inherit.
     */
    private void capture(int port, Direction direction, CapturedUpstream upstream, String what, boolean network)
            throws IOException {
        if (!shared.transport().relaysSockets()) {
            Channel listener = listen(port, new CaptureInitializer(this, direction, upstream), what, network);
            synchronized (listeners) {
                listeners.add(listener);
            }
            return;
        }
        int handed = inherited == null ? -1 : inherited.takeListener(port);
        SocketListener listener;
        if (handed >= 0) {
            // Read before adopt(), which makes a TPROXY capture's listener transparent. An ebpf capture's inbound
            // listener is the one its pod's sk_lookup program holds (its listeners are not transparent, as a
            // redirect capture's are not). Unreadable, the rules are installed anew.
            boolean sameCapture;
            try {
                sameCapture = SocketOptions.transparent(handed) == transparent(settings.capture())
                        && (direction != Direction.INBOUND || shared.connect().inbound().holds(namespace.path(),
                        handed) == (settings.capture() == CaptureMode.EBPF));
            } catch (IOException | RuntimeException e) {
                sameCapture = false;
            }
            try {
                listener = SocketListener.adopt(handed, port, this, direction, upstream, shared.group(),
                        shared.transport());
            } catch (IOException e) {
                throw new IOException("cannot take over the listener on port " + port + " (" + what + ") of pod "
                        + spec.key() + ": " + e.getMessage(), e);
            }
            if (sameCapture) {
                adoptedPorts.add(port);
            } else {
                // The proxy before this one captured the pod the other way: its rules are not this capture's, so they
                // are installed anew (rulesInherited() is false), for the listener adopt() set up for this capture.
                log.info("pod {}: the listener on :{} ({}) was handed over from a capture other than {}; the pod's "
                        + "rules are installed anew", spec.key(), port, what, settings.capture().configName());
            }
        } else {
            try {
                listener = SocketListener.bind(namespace, port, this, direction, upstream, shared.group(),
                        shared.transport());
            } catch (IOException e) {
                throw new IOException("cannot listen on port " + port + " (" + what + ") in " + spec.netns() + ": "
                        + e.getMessage(), e);
            }
        }
        synchronized (listeners) {
            socketListeners.add(listener);
        }
        if (network) {
            try {
                Transport.keepalive(listener.descriptor(), currentSettings().keepalive());
            } catch (IOException e) {
                throw new IOException("cannot set TCP keepalive on the listener on port " + port + " (" + what
                        + ") in " + spec.netns() + ": " + e.getMessage(), e);
            }
            networkSocketListeners.add(listener);
        }
        if (direction == Direction.INBOUND && settings.capture() == CaptureMode.EBPF) {
            // Into the map the pod's sk_lookup program reads: a restarted proxy's pod takes inbound connections again
            // from here on, not only once its rules step has looked at the program.
            shared.connect().inbound().listen(namespace.path(), listener.descriptor());
        }
    }

    /**
     * Opens (or takes over) the listener on {@code port}. One whose connections come across the network
     * ({@code network}: inbound, tunnel) gets TCP keepalive, which the connections it accepts inherit; the outbound
     * listener's come from the pod's own apps and need none.
     */
    private Channel listen(int port, ChannelHandler childInitializer, String what, boolean network) throws IOException {
        Channel listener = bindOrAdopt(port, childInitializer, what);
        if (!network) {
            return listener;
        }
        try {
            shared.transport().keepalive(listener, currentSettings().keepalive());
        } catch (IOException e) {
            listener.close().awaitUninterruptibly();
            throw new IOException("cannot set TCP keepalive on the listener on port " + port + " (" + what + ") in "
                    + spec.netns() + ": " + e.getMessage(), e);
        }
        networkListeners.add(listener);
        return listener;
    }

    /**
     * Sets TCP keepalive as the settings now say on the pod's inbound and tunnel listeners, for the connections they
     * accept from now on (those open keep theirs; new upstream sockets read the settings as they are made). Call when
     * only the keepalive settings changed; a failure is logged and leaves that listener as it was.
     */
    public void keepaliveChanged(TcpKeepalive keepalive) {
        for (Channel ch : networkListeners) {
            if (!ch.isOpen()) {
                continue;
            }
            try {
                shared.transport().keepalive(ch, keepalive);
            } catch (IOException e) {
                log.warn("pod {}: cannot change TCP keepalive on {}: {}", spec.key(), ch, e.getMessage());
            }
        }
        synchronized (listeners) {
            for (SocketListener listener : networkSocketListeners) {
                if (!socketListeners.contains(listener)) {
                    continue; // closed
                }
                try {
                    Transport.keepalive(listener.descriptor(), keepalive);
                } catch (IOException e) {
                    log.warn("pod {}: cannot change TCP keepalive on {}: {}", spec.key(), listener, e.getMessage());
                }
            }
        }
    }

    private Channel bindOrAdopt(int port, ChannelHandler childInitializer, String what) throws IOException {
        ServerBootstrap sb = new ServerBootstrap()
                .group(shared.group())
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.AUTO_READ, false) // until the upstream is connected
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childOption(ChannelOption.ALLOCATOR, PooledByteBufAllocator.DEFAULT)
                .childHandler(childInitializer);
        int handed = inherited == null ? -1 : inherited.takeListener(port);
        if (handed >= 0) {
            return adopt(sb, handed, port, what);
        }
        sb.channelFactory(shared.transport().serverChannels(namespace));
        // One dual-stack socket takes IPv4 (as mapped addresses) and IPv6; IPv4-only kernels get 0.0.0.0.
        ChannelFuture bound = sb.bind(new InetSocketAddress(InetAddress.ofLiteral("::"), port)).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            bound = sb.bind(new InetSocketAddress(InetAddress.ofLiteral("0.0.0.0"), port)).awaitUninterruptibly();
        }
        if (!bound.isSuccess()) {
            throw new IOException("cannot listen on port " + port + " (" + what + ") in " + spec.netns() + ": "
                    + bound.cause().getMessage(), bound.cause());
        }
        return bound.channel();
    }

    /**
     * Accepts on a listening socket the proxy before this one handed over: the same kernel socket and accept queue,
     * so no connection is refused while the two proxies change places.
     */
    private Channel adopt(ServerBootstrap sb, int fd, int port, String what) throws IOException {
        sb.channelFactory(() -> shared.transport().adoptListener(fd));
        ChannelFuture registered = sb.register().awaitUninterruptibly();
        if (!registered.isSuccess()) {
            registered.channel().close();
            throw new IOException("cannot take over the listener on port " + port + " (" + what + ") of pod "
                    + spec.key() + ": " + registered.cause().getMessage(), registered.cause());
        }
        adoptedPorts.add(port);
        return registered.channel();
    }

    /**
     * The pod's namespace and listening sockets as descriptors, for the next proxy (they stay this capture's), or
     * null when it is not listening or its transport cannot hand over.
     */
    public HandoverSocket.Listeners handoverListeners() {
        if (state != State.LISTENING || !shared.transport().handsOver()) {
            return null;
        }
        Map<Integer, Integer> byPort = new LinkedHashMap<>();
        synchronized (listeners) {
            for (Channel ch : listeners) {
                if (ch instanceof EpollServerSocketChannel epoll && ch.localAddress() instanceof InetSocketAddress a) {
                    byPort.put(a.getPort(), epoll.fd().intValue());
                }
            }
            for (SocketListener listener : socketListeners) {
                byPort.put(listener.port(), listener.descriptor());
            }
        }
        return new HandoverSocket.Listeners(namespace.fd(), byPort, null);
    }

    /**
     * The next proxy accepts on this pod now: stops accepting here (a close of this process's reference only; the
     * socket listens on in the next proxy) and starts moving every relay that can move. The pod then drains as on
     * release, with what stays.
     */
    public List<CompletableFuture<MovedConnection>> handOver(long quiesceMillis) {
        closeListeners();
        state = State.DRAINING; // released here: the next proxy has it
        List<CompletableFuture<MovedConnection>> moves = new ArrayList<>();
        for (Connection c : connections) {
            moves.add(c.moveOut(spec.key(), quiesceMillis));
        }
        return moves;
    }

    /**
     * Resumes a relay the proxy before this one moved (only an epoll proxy takes relays over): its two sockets are
     * relayed below the channel API on one event loop, as a connection accepted here would be. Owns {@code moved}'s
     * descriptors from the call on.
     */
    public void resume(MovedConnection moved) {
        IoEventLoop loop = (IoEventLoop) shared.group().next();
        loop.execute(() -> SocketConnection.resumed(moved, loop, this, currentSettings().idleTimeout().toMillis()));
    }

    /** Starts tracking a connection just accepted by one of this pod's listeners; call from its initializer. */
    public ChannelConnection track(Channel accepted, Direction direction) {
        return new ChannelConnection(direction, accepted, this);
    }

    /** Holds {@code c} (a captured connection or a stream of this pod's tunnel server) until its downstream closes. */
    @Override
    public void accepted(Connection c) {
        connections.add(c);
        c.whenDownstreamCloses(() -> {
            connections.remove(c);
            if (draining && connections.isEmpty()) {
                finishDrain();
            }
        });
    }

    /** The tunnel connections this pod's pool holds now (0 without a mesh CA). */
    public int tunnelConnections() {
        TunnelPool pool = tunnels;
        return pool == null ? 0 : pool.connectionCount();
    }

    /** Connections accepted and not yet closed. */
    public Set<Connection> connections() {
        return java.util.Collections.unmodifiableSet(connections);
    }

    private OpenedConnection opening(Connection c) {
        return new OpenedConnection(c.direction(), spec.namespace(), spec.name(), spec.serviceAccount(), c.source(),
                c.destination(), c.openedAtMillis(), c.path());
    }

    /** Counted open here too (its opening went to telemetry from the proxy before), so the counters add up. */
    @Override
    public void resumed(Connection c) {
        stats(c.direction()).opened();
        shared.node().direction(c.direction()).opened();
    }

    @Override
    public void opened(Connection c) {
        stats(c.direction()).opened();
        shared.node().direction(c.direction()).opened();
        try {
            c.openReported(shared.sink().opened(opening(c)));
        } catch (RuntimeException e) {
            log.warn("connection sink failed on the opening of {} -> {}: {}", c.source(), c.destination(), e.toString());
        }
    }

    @Override
    public void closed(Connection c, Outcome outcome, long durationNanos) {
        stats(c.direction()).closed(outcome, c.bytesFromSource(), c.bytesToSource());
        shared.node().direction(c.direction()).closed(outcome, c.bytesFromSource(), c.bytesToSource());
        ClosedConnection record = new ClosedConnection(opening(c), c.bytesFromSource(), c.bytesToSource(), durationNanos,
                outcome, c.openReported(), c.endedBy());
        shared.node().remember(record);
        // One line per connection is an access log written synchronously on the event loop: off by
        // default (the agent keeps the access log, /connections the recent ones); on with
        // -Dorg.slf4j.simpleLogger.log.io.nodemesh.proxy.connections=debug.
        if (connectionLog.isDebugEnabled()) {
            connectionLog.debug("{} {} {} -> {} {}{} sent={} received={} {}ms", spec.key(),
                    c.direction().name().toLowerCase(java.util.Locale.ROOT), c.source(), c.destination(), outcome,
                    c.endedBy() == null ? "" : " (" + c.endedBy().name().toLowerCase(java.util.Locale.ROOT) + ")",
                    c.bytesFromSource(), c.bytesToSource(), TimeUnit.NANOSECONDS.toMillis(durationNanos));
        }
        try {
            shared.sink().closed(record);
        } catch (RuntimeException e) {
            log.warn("connection sink failed on {}: {}", record, e.toString());
        }
    }

    @Override
    public void notRedirected(Connection c, String reason) {
        notRedirected.increment();
        shared.node().notRedirected();
        log.debug("pod {}: closed an {} connection from {}: {}", spec.key(),
                c.direction().name().toLowerCase(java.util.Locale.ROOT), c.source(), reason);
    }

    public DirectionStats stats(Direction d) {
        return d == Direction.OUTBOUND ? outbound : inbound;
    }

    public long notRedirectedCount() {
        return notRedirected.sum();
    }

    /** Whether the listeners are open. */
    public boolean listening() {
        return state == State.LISTENING;
    }

    /**
     * Stops accepting, lets open connections finish until {@code timeout}, then closes what is left
     * ({@link Outcome#DRAINED}). The future completes when every connection is gone.
     */
    public CompletableFuture<Void> drain(java.time.Duration timeout, ScheduledExecutorService timer) {
        if (state == State.FAILED || state == State.STOPPED || draining) {
            return drained;
        }
        state = State.DRAINING;
        draining = true;
        drainTunnel();
        closeListeners();
        if (connections.isEmpty()) {
            finishDrain();
        } else {
            log.info("pod {}: draining {} connection(s) for up to {}", spec.key(), connections.size(), timeout);
            timer.schedule(() -> {
                if (!connections.isEmpty()) {
                    log.info("pod {}: drain deadline passed, closing {} connection(s)", spec.key(), connections.size());
                    connections.forEach(c -> c.closeFromAnyThread(Outcome.DRAINED));
                }
            }, timeout.toMillis(), TimeUnit.MILLISECONDS);
        }
        return drained;
    }

    private synchronized void finishDrain() {
        if (state == State.STOPPED) {
            return;
        }
        state = State.STOPPED;
        closeTunnel();
        closeNamespace();
        drained.complete(null);
        log.info("pod {}: released", spec.key());
    }

    /**
     * The tunnel's streams are this pod's connections too: they finish like the others, on their connections, which
     * take no new stream (the pool's) or tell their clients to open none (the server's).
     */
    private void drainTunnel() {
        TunnelPool pool = tunnels;
        if (pool != null) {
            pool.drain();
        }
        TunnelServer server = tunnelServer;
        if (server != null) {
            server.goAway();
        }
    }

    /** Closes the tunnel's connections, both ways (their streams end with them). */
    private void closeTunnel() {
        TunnelPool pool = tunnels;
        if (pool != null) {
            pool.close();
        }
        TunnelServer server = tunnelServer;
        if (server != null) {
            server.closeAll();
        }
    }

    private void closeListeners() {
        List<Channel> copy;
        List<SocketListener> sockets;
        synchronized (listeners) {
            copy = new ArrayList<>(listeners);
            listeners.clear();
            sockets = new ArrayList<>(socketListeners);
            socketListeners.clear();
        }
        for (Channel ch : copy) {
            ch.close().awaitUninterruptibly();
        }
        for (SocketListener listener : sockets) {
            listener.close();
        }
    }

    private void closeNamespace() {
        NetworkNamespace ns = namespace;
        if (ns != null) {
            ns.close();
        }
    }

    @Override
    public String toString() {
        return "pod " + spec.key() + " (" + state + ")";
    }
}
