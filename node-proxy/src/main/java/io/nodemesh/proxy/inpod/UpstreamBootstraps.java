package io.nodemesh.proxy.inpod;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntSupplier;

/**
 * The bootstraps of a pod's plain upstream connects, one per event loop: a connect on a loop, made on that loop's
 * thread, gets that loop's bootstrap, which no other thread uses (its handler is set per connect, read by the
 * connect itself and then let go, {@link PodUpstream}). So a connection's upstream copies no bootstrap: a copy per connection was about 1 KiB of garbage,
 * its options map and config (RESULTS.md, churn). The connect timeout in force is read per connect; when it has
 * changed, the loops' bootstraps are made again. A connect asked for from another thread gets a copy of its own.
 */
final class UpstreamBootstraps {

    private final Bootstrap template;
    private final IntSupplier connectTimeoutMillis;
    private volatile ForTimeout current = new ForTimeout(-1, new ConcurrentHashMap<>());

    /** The loops' bootstraps for one connect timeout. */
    private record ForTimeout(int millis, Map<EventLoop, Bootstrap> byLoop) {
    }

    /**
     * @param template the pod's upstream bootstrap (channel factory, options), copied once per loop and timeout
     * @param connectTimeoutMillis the connect timeout in force, read per connect
     */
    UpstreamBootstraps(Bootstrap template, IntSupplier connectTimeoutMillis) {
        this.template = template;
        this.connectTimeoutMillis = connectTimeoutMillis;
    }

    /** A bootstrap for a connect on {@code loop}, its group that loop; the caller sets the handler and connects. */
    Bootstrap on(EventLoop loop) {
        int millis = connectTimeoutMillis.getAsInt();
        if (!loop.inEventLoop()) {
            return copy(loop, millis);
        }
        ForTimeout forTimeout = current;
        if (forTimeout.millis() != millis) {
            forTimeout = new ForTimeout(millis, new ConcurrentHashMap<>());
            current = forTimeout; // two loops racing here each make one; the loser's bootstraps are made once more
        }
        Bootstrap b = forTimeout.byLoop().get(loop);
        if (b == null) {
            b = copy(loop, millis);
            forTimeout.byLoop().put(loop, b);
        }
        return b;
    }

    private Bootstrap copy(EventLoop loop, int millis) {
        return template.clone().group(loop).option(ChannelOption.CONNECT_TIMEOUT_MILLIS, millis);
    }
}
