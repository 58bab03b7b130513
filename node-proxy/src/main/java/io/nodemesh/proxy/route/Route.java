package io.nodemesh.proxy.route;

import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;
import java.util.Objects;

/** Where an outbound connection goes, as {@link RouteDecider} decides it. */
public sealed interface Route {

    /** The one pass-through route: the destination is not in the mesh, so plain TCP to it from the pod. */
    Route PASSTHROUGH = new Passthrough();

    /**
     * The service endpoint counted for this connection, released when it closes; null when the destination was not a
     * service.
     */
    default EndpointLoad.Lease lease() {
        return null;
    }

    /** Plain TCP to the original destination (not a meshed workload, not a service). */
    record Passthrough() implements Route {
    }

    /**
     * Plain TCP to {@code address} instead of the original destination: a service's endpoint outside the mesh, chosen
     * by the balancer.
     */
    record Direct(InetSocketAddress address, EndpointLoad.Lease lease) implements Route {
        public Direct {
            Objects.requireNonNull(address, "address");
            Objects.requireNonNull(lease, "lease");
        }
    }

    /**
     * The destination is a meshed workload: reach it through the mesh, as {@code identity}, at {@code address} (the
     * pod's own address, or a service endpoint the balancer chose, then with its {@code lease}). Until the mTLS
     * tunnel lands, the proxy connects in plaintext to {@code address}, where the destination pod's inbound capture
     * takes it; the tunnel replaces that connect with a stream to the destination's proxy.
     */
    record Tunnel(SpiffeId identity, InetSocketAddress address, EndpointLoad.Lease lease) implements Route {
        public Tunnel {
            Objects.requireNonNull(identity, "identity");
            Objects.requireNonNull(address, "address");
        }

        /** A tunnel straight to a pod's address (no service, nothing counted). */
        public Tunnel(SpiffeId identity, InetSocketAddress address) {
            this(identity, address, null);
        }
    }

    /** The connection must not be made; the client gets a reset. */
    record Deny(String reason) implements Route {
        public Deny {
            Objects.requireNonNull(reason, "reason");
        }
    }
}
