package io.nodemesh.proxy.route;

import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceTarget;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;

/**
 * The route decision: a function of (snapshot, source workload, original destination), without sockets, so every rule
 * is unit-tested. Called once per outbound connection on the event loop: it reads the snapshot (lookups by address
 * allocate nothing) and allocates only the route it returns, and nothing at all for a pass-through.
 *
 * <p>Rules: a service address and port is balanced over the service's ready endpoints ({@link EndpointLoad}: power of
 * two choices over least outstanding connections), to the chosen endpoint's target port, through the mesh when that
 * endpoint is a meshed pod and directly otherwise; a service with no ready endpoint, or a service address on a port
 * the service does not have, is denied (as kube-proxy rejects it). A destination that is not a meshed pod passes
 * through; a meshed pod's address is a tunnel to that pod's identity; the proxy's own ports on a meshed pod (outbound
 * and inbound capture, the tunnel port) are denied: a connection there would loop through the proxy or reach a
 * listener that serves only redirected traffic. The only state besides the snapshot is the endpoints' counts of open
 * connections.
 */
public final class RouteDecider {

    /** The tunnel's port on every meshed pod (HBONE). */
    public static final int TUNNEL_PORT = 15008;

    private final String trustDomain;
    private final EndpointLoad load;

    /**
     * @param trustDomain the SPIFFE trust domain of the mesh's identities
     * @param load the service endpoints' open connections, shared by every pod's listener
     */
    public RouteDecider(String trustDomain, EndpointLoad load) {
        this.trustDomain = trustDomain;
        this.load = load;
    }

    /** A decider for the default trust domain, {@code cluster.local}, with its own endpoint counts. */
    public static RouteDecider defaultTrustDomain() {
        return new RouteDecider(SpiffeId.DEFAULT_TRUST_DOMAIN, new EndpointLoad());
    }

    /** The endpoints' counts of open connections this decider balances by. */
    public EndpointLoad load() {
        return load;
    }

    /**
     * Where a connection from {@code source} to {@code destination} goes under {@code snapshot}. A route with a
     * {@link Route#lease()} has counted the connection against an endpoint: release it when the connection closes.
     *
     * @param source the captured pod that opened the connection
     * @param destination its original destination (before the redirect)
     */
    public Route decide(MeshSnapshot snapshot, PodSpec source, InetSocketAddress destination) {
        InetAddress ip = destination.getAddress();
        int port = destination.getPort();
        ServiceTarget service = snapshot.serviceAt(ip, port);
        if (service != null) {
            return toService(snapshot, source, destination, service);
        }
        if (snapshot.isServiceAddress(ip)) {
            return new Route.Deny("no service has port " + port + " on " + ip.getHostAddress() + " (" + source.key()
                    + " -> " + ip.getHostAddress() + ":" + port + ")");
        }
        Optional<PodSpec> target = snapshot.podByIp(ip);
        if (target.isEmpty() || !target.get().meshed()) {
            return Route.PASSTHROUGH;
        }
        PodSpec pod = target.get();
        if (isProxyPort(port, snapshot.proxy())) {
            return proxyPortDenied(source, pod, destination);
        }
        return new Route.Tunnel(identity(pod), destination);
    }

    private Route toService(MeshSnapshot snapshot, PodSpec source, InetSocketAddress destination,
            ServiceTarget service) {
        EndpointLoad.Lease lease = load.pick(service);
        if (lease == null) {
            return new Route.Deny("service " + service.service().key() + " port " + service.port().port()
                    + " has no ready endpoint (" + source.key() + " -> " + HostPort.format(destination) + ")");
        }
        ServiceTarget.Backend backend = lease.backend();
        PodSpec pod = backend.pod();
        if (pod == null || !pod.meshed()) {
            return new Route.Direct(backend.address(), lease);
        }
        if (isProxyPort(backend.address().getPort(), snapshot.proxy())) {
            lease.release();
            return proxyPortDenied(source, pod, backend.address());
        }
        return new Route.Tunnel(identity(pod), backend.address(), lease);
    }

    private SpiffeId identity(PodSpec pod) {
        return new SpiffeId(trustDomain, pod.namespace(), pod.serviceAccount());
    }

    private static Route proxyPortDenied(PodSpec source, PodSpec pod, InetSocketAddress destination) {
        return new Route.Deny("port " + destination.getPort() + " of meshed pod " + pod.key() + " is the proxy's own ("
                + source.key() + " -> " + HostPort.format(destination) + ")");
    }

    private static boolean isProxyPort(int port, ProxySettings settings) {
        return port == settings.outboundPort() || port == settings.inboundPort() || port == TUNNEL_PORT;
    }
}
