package io.nodemesh.proxy.model;

import java.net.InetSocketAddress;
import java.util.Objects;

/**
 * How one connection crosses between the proxies, and who its two ends are known to be: {@code tunnel} (a stream on a
 * tunnel connection, the pooled mutual-TLS connection between two proxies) or {@code plaintext} (plain TCP). Learnt
 * once per connection, when its way is chosen (outbound) or when it arrives (inbound), never on the data path; a tunnel
 * connection's is made once and shared by its streams. Shown by the admin API's {@code /connections}.
 *
 * @param tunnel the far end of the tunnel connection this connection is a stream of (outbound: the destination's
 *        tunnel port, {@code 10.0.0.5:15008}; inbound: the source proxy's end), or null on a plaintext path
 * @param mutualTls whether that tunnel connection is mutual TLS (a plaintext path never is)
 * @param sourcePrincipal the source's SPIFFE id where known: the local workload's on the source side, the client
 *        certificate's proven identity on the destination side of a tunnel; null where unknown (a plaintext peer)
 * @param destinationPrincipal the destination's SPIFFE id where known: the one the tunnel's server certificate proved
 *        on the source side, the local workload's on the destination side; null where unknown
 */
public record ConnectionPath(InetSocketAddress tunnel, boolean mutualTls, SpiffeId sourcePrincipal,
                             SpiffeId destinationPrincipal) {

    public ConnectionPath {
        if (tunnel == null && mutualTls) {
            throw new IllegalArgumentException("only a tunnel is mutual TLS");
        }
    }

    /** Plain TCP between the proxies (or to a destination outside the mesh): nothing proven about the far end. */
    public static ConnectionPath plaintext(SpiffeId sourcePrincipal, SpiffeId destinationPrincipal) {
        return new ConnectionPath(null, false, sourcePrincipal, destinationPrincipal);
    }

    /** A stream on the tunnel connection whose far end is {@code tunnel}. */
    public static ConnectionPath tunnel(InetSocketAddress tunnel, boolean mutualTls, SpiffeId sourcePrincipal,
            SpiffeId destinationPrincipal) {
        return new ConnectionPath(Objects.requireNonNull(tunnel, "tunnel"), mutualTls, sourcePrincipal,
                destinationPrincipal);
    }

    /** Whether the connection is a tunnel stream. */
    public boolean tunnelled() {
        return tunnel != null;
    }

    /** {@code tunnel} or {@code plaintext}, as the admin API and the CLI name it. */
    public String kind() {
        return tunnel != null ? "tunnel" : "plaintext";
    }

    /** {@code mutual_tls} or {@code none}, Istio's names for a connection's security policy. */
    public String security() {
        return mutualTls ? "mutual_tls" : "none";
    }
}
