package io.nodemesh.proxy.relay;

import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;

/**
 * How the proxy reaches a connection's destination: a TCP connect from the pod's network namespace today
 * ({@code inpod.PodUpstream}), a stream on a pooled mTLS connection next (the tunnel).
 */
@FunctionalInterface
public interface Upstream {

    /**
     * Starts connecting for {@code connection}, whose original destination is known. On success the future's channel
     * is the upstream side: registered on {@code loop} (the downstream's, so the connection needs no locking), with
     * {@code handler} last in its pipeline and reading off until the relay starts. An implementation that creates a
     * channel tells the connection at once ({@link Connection#upstreamConnecting}), so a close reaches it while it
     * connects. A failed future's cause says why ({@link Outcomes#ofConnectFailure}); a refusal decided without a
     * channel fails the downstream's own future.
     */
    ChannelFuture connect(ChannelConnection connection, EventLoop loop, ChannelHandler handler);
}
