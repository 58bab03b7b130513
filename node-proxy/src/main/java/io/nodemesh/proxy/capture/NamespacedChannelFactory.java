package io.nodemesh.proxy.capture;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFactory;
import io.nodemesh.linux.NetworkNamespace;
import java.util.function.Supplier;

/**
 * Creates Netty channels whose sockets live in a pod's network namespace. Netty's epoll, io_uring
 * and NIO channels call {@code socket()} in their constructor, and a socket belongs to the
 * namespace of the thread that created it, so the calling thread enters the namespace around the
 * constructor only and leaves at once. Binding, connecting and all I/O then happen on the event
 * loop as usual. Nothing blocks while the thread is inside, so this may run on an event loop (it
 * does, for every upstream connection). Measured with {@code NamespaceEntryBenchmark}
 * (jmh-bench/RESULTS.md): entering and leaving costs about 2 us and allocates nothing, and a
 * socket created inside the pod's namespace about 1.35x one created in place.
 */
public final class NamespacedChannelFactory<T extends Channel> implements ChannelFactory<T> {

    private final NetworkNamespace namespace;
    private final Supplier<T> constructor;

    public NamespacedChannelFactory(NetworkNamespace namespace, Supplier<T> constructor) {
        this.namespace = namespace;
        this.constructor = constructor;
    }

    @Override
    public T newChannel() {
        try {
            return namespace.call(constructor::get);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new ChannelException("cannot create a socket in " + namespace + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "channels in " + namespace;
    }
}
