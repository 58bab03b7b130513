package io.nodemesh.proxy.route;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * The route decision: a pure function of (snapshot, source workload, original destination), without sockets, so
 * every rule is unit-tested. Called once per outbound connection on the event loop: it reads the snapshot (lookups by
 * address allocate nothing) and allocates only the route it returns, and nothing at all for a pass-through.
 *
 * <p>Rules today: a destination that is not a captured pod of the mesh passes through; a captured pod's address is a
 * tunnel to that pod's identity; the proxy's own ports on a meshed pod (outbound and inbound capture, the tunnel
 * port) are denied: a connection there would loop through the proxy or reach a listener that serves only redirected
 * traffic. Services (a cluster IP balanced over its endpoints) come with Kubernetes discovery.
 */
public final class RouteDecider {

    /** The tunnel's port on every meshed pod (HBONE). */
    public static final int TUNNEL_PORT = 15008;

    private final String trustDomain;

    /** @param trustDomain the SPIFFE trust domain of the mesh's identities */
    public RouteDecider(String trustDomain) {
        this.trustDomain = trustDomain;
    }

    /** A decider for the default trust domain, {@code cluster.local}. */
    public static RouteDecider defaultTrustDomain() {
        return new RouteDecider(SpiffeId.DEFAULT_TRUST_DOMAIN);
    }

    /**
     * Where a connection from {@code source} to {@code destination} goes under {@code snapshot}.
     *
     * @param source the captured pod that opened the connection
     * @param destination its original destination (before the redirect)
     */
    public Route decide(MeshSnapshot snapshot, PodSpec source, InetSocketAddress destination) {
        Optional<PodSpec> target = snapshot.podByIp(destination.getAddress());
        if (target.isEmpty() || !target.get().capture()) {
            return Route.PASSTHROUGH;
        }
        PodSpec pod = target.get();
        int port = destination.getPort();
        if (isProxyPort(port, snapshot.proxy())) {
            return new Route.Deny("port " + port + " of meshed pod " + pod.key() + " is the proxy's own ("
                    + source.key() + " -> " + destination.getAddress().getHostAddress() + ":" + port + ")");
        }
        return new Route.Tunnel(new SpiffeId(trustDomain, pod.namespace(), pod.serviceAccount()), destination);
    }

    private static boolean isProxyPort(int port, ProxySettings settings) {
        return port == settings.outboundPort() || port == settings.inboundPort() || port == TUNNEL_PORT;
    }
}
