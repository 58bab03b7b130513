package io.nodemesh.proxy.inpod;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelFactory;
import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
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
 *
 * <p>An optional {@link Setup} runs on each new socket before Netty sees the channel (so before it
 * connects); when it fails the socket is closed and the connection attempt fails with its reason,
 * e.g. an upstream socket that cannot carry the proxy's mark never sends a packet.
 */
public final class NamespacedChannelFactory<T extends Channel> implements ChannelFactory<T> {

    /** Something done to every new channel's socket, e.g. setting its packet mark. */
    @FunctionalInterface
    public interface Setup<T> {
        /** Applies to {@code channel}; an exception fails the channel's creation. */
        void apply(T channel) throws IOException;
    }

    private final NetworkNamespace namespace;
    private final Supplier<T> constructor;
    private final Setup<? super T> setup;
    private final String setupName;

    public NamespacedChannelFactory(NetworkNamespace namespace, Supplier<T> constructor) {
        this(namespace, constructor, null, null);
    }

    /** Channels made by {@code constructor} in {@code namespace}, each then given {@code setup} (named {@code setupName} in errors). */
    public NamespacedChannelFactory(NetworkNamespace namespace, Supplier<T> constructor, Setup<? super T> setup,
                                    String setupName) {
        this.namespace = namespace;
        this.constructor = constructor;
        this.setup = setup;
        this.setupName = setupName;
    }

    @Override
    public T newChannel() {
        T channel;
        try {
            channel = namespace.call(constructor::get);
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new ChannelException("cannot create a socket in " + namespace + ": " + e.getMessage(), e);
        }
        if (setup != null) {
            try {
                setup.apply(channel);
            } catch (IOException | RuntimeException e) {
                channel.unsafe().closeForcibly();
                throw new ChannelException("cannot " + setupName + " on a new socket in " + namespace
                        + ", so it was closed unused: " + e.getMessage(), e);
            }
        }
        return channel;
    }

    @Override
    public String toString() {
        return "channels in " + namespace + (setup == null ? "" : " (" + setupName + ")");
    }
}
