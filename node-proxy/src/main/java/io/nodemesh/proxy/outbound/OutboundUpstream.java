package io.nodemesh.proxy.outbound;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.inpod.PodUpstream;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.CapturedUpstream;
import io.nodemesh.proxy.relay.Way;
import io.nodemesh.proxy.route.EndpointLoad;
import io.nodemesh.proxy.route.Route;
import io.nodemesh.proxy.route.RouteDecider;
import io.nodemesh.proxy.route.RouteDenied;
import io.nodemesh.proxy.tunnel.TunnelUpstream;
import java.net.InetSocketAddress;
import java.util.function.Supplier;

/**
 * The upstream of a connection a pod opened: the route decision, on the snapshot in force, picks how to reach the
 * destination. Pass-through is a plain connect from the pod; a service endpoint outside the mesh is a plain connect to
 * the endpoint the balancer chose. A meshed destination is a stream on the pod's pooled mutual-TLS tunnel to the
 * destination's :15008, where the node has identities (a mesh CA); without, a plain connect to its address (the
 * destination pod's inbound capture takes it there). A denied route fails the connect without a socket, and the
 * client gets a reset.
 */
public final class OutboundUpstream implements CapturedUpstream {

    private final Supplier<MeshSnapshot> snapshot;
    private final RouteDecider decider;
    private final PodSpec source;
    private final PodUpstream direct;
    private final TunnelUpstream tunnel;
    private final ConnectionPath plaintext;

    /**
     * @param snapshot the snapshot in force (read once per connection)
     * @param decider the route decision
     * @param source the pod whose outbound listener accepted the connections
     * @param direct plain TCP from that pod's namespace
     * @param tunnel the pod's mutual-TLS tunnel to meshed destinations, or null where the node has no identities
     *         (then a meshed destination is reached with a plain connect, which its inbound capture takes)
     */
    public OutboundUpstream(Supplier<MeshSnapshot> snapshot, RouteDecider decider, PodSpec source, PodUpstream direct,
                            TunnelUpstream tunnel) {
        this.snapshot = snapshot;
        this.decider = decider;
        this.source = source;
        this.direct = direct;
        this.tunnel = tunnel;
        // Plain TCP proves nothing about the far end; the source is the pod, known by its identity where it has one.
        this.plaintext = ConnectionPath.plaintext(tunnel == null ? null : tunnel.source(), null);
    }

    @Override
    public Way way(InetSocketAddress client, InetSocketAddress destination) {
        Route route = decider.decide(snapshot.get(), source, destination);
        EndpointLoad.Lease lease = route.lease();
        // The endpoint's count falls when the app's connection closes, whatever happened upstream.
        Runnable release = lease == null ? null : lease::release;
        return switch (route) {
            case Route.Passthrough p -> new Way.Plain(direct, destination, plaintext, release);
            case Route.Direct d -> new Way.Plain(direct, d.address(), plaintext, release);
            case Route.Tunnel t -> tunnel != null ? new Way.Tunnel(t.identity(), t.address(), release)
                    : new Way.Plain(direct, t.address(), plaintext, release);
            case Route.Deny d -> new Way.Refused(d.reason(), null);
        };
    }

    @Override
    public ChannelFuture connect(ChannelConnection connection, Way way, EventLoop loop, ChannelHandler handler) {
        return switch (way) {
            case Way.Plain p -> p.via().connect(connection, p.address(), loop, handler);
            case Way.Tunnel t -> tunnel.connect(connection, t.identity(), t.address(), loop, handler);
            case Way.Refused r -> connection.downstream().newFailedFuture(new RouteDenied(r.reason()));
        };
    }
}
