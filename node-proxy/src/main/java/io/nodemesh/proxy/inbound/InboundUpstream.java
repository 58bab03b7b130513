package io.nodemesh.proxy.inbound;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PeerAuthentication;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.inpod.PodUpstream;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.policy.Authorizer;
import io.nodemesh.proxy.policy.Peer;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.CapturedUpstream;
import io.nodemesh.proxy.relay.Way;
import io.nodemesh.proxy.route.RouteDenied;
import java.net.InetSocketAddress;
import java.util.function.Supplier;

/**
 * The upstream of a plaintext connection into a captured pod (its inbound capture, :15006): the destination's
 * authorization policies decide, on the snapshot in force, whether it reaches the app. A plaintext peer has no
 * identity, so only rules on addresses and ports can admit it (principals and namespaces match authenticated peers
 * only, as in Istio). In a namespace whose peer authentication is {@link PeerAuthentication#STRICT} no plaintext is
 * admitted at all: only the mutual-TLS tunnel reaches its pods. A denied connection is reset without a socket to the
 * app ({@code Outcome.DENIED}, counted with the other denials in the node's telemetry; the reason is in the proxy's debug log).
 */
public final class InboundUpstream implements CapturedUpstream {

    private final Supplier<MeshSnapshot> snapshot;
    private final PodSpec workload;
    private final PodUpstream app;
    private final ConnectionPath plaintext;

    /**
     * @param snapshot the snapshot in force (read once per connection)
     * @param workload the pod whose inbound listener accepted the connections
     * @param identity that pod's identity, or null where the node has none (no mesh CA)
     * @param app plain TCP to the app inside that pod
     */
    public InboundUpstream(Supplier<MeshSnapshot> snapshot, PodSpec workload, SpiffeId identity, PodUpstream app) {
        this.snapshot = snapshot;
        this.workload = workload;
        this.app = app;
        this.plaintext = ConnectionPath.plaintext(null, identity);
    }

    @Override
    public Way way(InetSocketAddress source, InetSocketAddress destination) {
        // Admitted or not, it came in plaintext from a peer that proved nothing.
        MeshSnapshot mesh = snapshot.get();
        if (mesh.peerAuthentication(workload.namespace()) == PeerAuthentication.STRICT) {
            return new Way.Refused("peer authentication of namespace " + workload.namespace()
                    + " is strict: plaintext refused (" + source.getAddress().getHostAddress() + " -> "
                    + workload.key() + ":" + destination.getPort() + ")", plaintext);
        }
        if (!mesh.policies(workload.namespace()).isEmpty()) {
            Peer peer = new Peer(null, source.getAddress(), destination.getPort());
            Authorizer.Decision decision = Authorizer.decide(mesh, workload, peer);
            if (!decision.allowed()) {
                return new Way.Refused(decision.reason() + " (" + source.getAddress().getHostAddress() + " -> "
                        + workload.key() + ":" + destination.getPort() + ", plaintext)", plaintext);
            }
        }
        return new Way.Plain(app, destination, plaintext, null);
    }

    @Override
    public ChannelFuture connect(ChannelConnection connection, Way way, EventLoop loop, ChannelHandler handler) {
        return switch (way) {
            case Way.Plain p -> p.via().connect(connection, p.address(), loop, handler);
            case Way.Refused r -> connection.downstream().newFailedFuture(new RouteDenied(r.reason()));
            case Way.Tunnel t -> throw new IllegalArgumentException("an inbound connection has no tunnel way: " + t);
        };
    }
}
