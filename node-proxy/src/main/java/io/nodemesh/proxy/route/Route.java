package io.nodemesh.proxy.route;

import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;
import java.util.Objects;

/** Where an outbound connection goes, as {@link RouteDecider} decides it. */
public sealed interface Route {

    /** The one pass-through route: the destination is not in the mesh, so plain TCP to it from the pod. */
    Route PASSTHROUGH = new Passthrough();

    /** Plain TCP to the original destination (not a meshed workload). */
    record Passthrough() implements Route {
    }

    /**
     * The destination is a meshed workload: reach it through the mesh, as {@code identity}, at {@code address}. Until
     * the mTLS tunnel lands, the proxy connects in plaintext to {@code address}, where the destination pod's inbound
     * capture takes it; the tunnel replaces that connect with a stream to the destination's proxy.
     */
    record Tunnel(SpiffeId identity, InetSocketAddress address) implements Route {
        public Tunnel {
            Objects.requireNonNull(identity, "identity");
            Objects.requireNonNull(address, "address");
        }
    }

    /** The connection must not be made; the client gets a reset. */
    record Deny(String reason) implements Route {
        public Deny {
            Objects.requireNonNull(reason, "reason");
        }
    }
}
