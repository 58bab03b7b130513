package io.nodemesh.proxy.route;

import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.ServiceTarget;
import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The connections outstanding to each service endpoint on this node, and the balancing that reads them: power of two
 * choices over least outstanding connections (two ready endpoints drawn at random, the one with fewer open
 * connections wins). Counts outlive snapshots: an endpoint keeps its count while it stays in the services, and is
 * forgotten once it has left them and its last connection has closed.
 */
public final class EndpointLoad {

    private final ConcurrentHashMap<InetSocketAddress, Outstanding> counts = new ConcurrentHashMap<>();

    /**
     * Picks one of {@code target}'s ready endpoints and counts a connection to it; the caller releases the returned
     * lease when the connection closes. Returns null when no endpoint is ready. Called on the event loops.
     */
    public Lease pick(ServiceTarget target) {
        ServiceTarget.Backend[] backends = target.backends();
        int n = backends.length;
        if (n == 0) {
            return null;
        }
        ServiceTarget.Backend chosen;
        Outstanding count;
        if (n == 1) {
            chosen = backends[0];
            count = counter(chosen.address());
        } else {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int i = random.nextInt(n);
            int j = random.nextInt(n - 1);
            if (j >= i) {
                j++;
            }
            Outstanding a = counter(backends[i].address());
            Outstanding b = counter(backends[j].address());
            if (b.get() < a.get()) {
                chosen = backends[j];
                count = b;
            } else {
                chosen = backends[i];
                count = a;
            }
        }
        count.incrementAndGet();
        return new Lease(chosen, count);
    }

    private Outstanding counter(InetSocketAddress address) {
        Outstanding c = counts.get(address);
        return c != null ? c : counts.computeIfAbsent(address, a -> new Outstanding());
    }

    /** Connections open to {@code address} through a service. */
    public int outstanding(InetSocketAddress address) {
        Outstanding c = counts.get(address);
        return c == null ? 0 : c.get();
    }

    /** Forgets endpoints that are in none of {@code snapshot}'s services and have nothing open. Control thread. */
    public void retain(MeshSnapshot snapshot) {
        Set<InetSocketAddress> live = new HashSet<>();
        snapshot.services().values().forEach(svc -> svc.ports().forEach(port -> svc.endpoints().forEach(ep -> {
            Integer target = ep.ports().get(port.name());
            if (target != null) {
                live.add(new InetSocketAddress(ep.address(), target));
            }
        })));
        for (Map.Entry<InetSocketAddress, Outstanding> e : counts.entrySet()) {
            if (!live.contains(e.getKey()) && e.getValue().get() == 0) {
                counts.remove(e.getKey(), e.getValue());
            }
        }
    }

    /** One endpoint's count of open connections. */
    static final class Outstanding extends AtomicInteger {
    }

    /** One connection counted against one endpoint; {@link #release()} once when it closes. */
    public static final class Lease {
        private final ServiceTarget.Backend backend;
        private final Outstanding count;
        private boolean released;

        Lease(ServiceTarget.Backend backend, Outstanding count) {
            this.backend = backend;
            this.count = count;
        }

        /** The endpoint chosen. */
        public ServiceTarget.Backend backend() {
            return backend;
        }

        /** Uncounts the connection; a second call does nothing. Call on the connection's event loop. */
        public void release() {
            if (!released) {
                released = true;
                count.decrementAndGet();
            }
        }
    }
}
