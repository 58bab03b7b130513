package io.nodemesh.proxy.capture;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.relay.ChannelConnection;
import io.nodemesh.proxy.relay.IdleTimeout;
import io.nodemesh.proxy.relay.Upstream;
import io.nodemesh.proxy.relay.UpstreamConnector;

/**
 * The pipeline of a captured connection, the same for both listeners of a pod: the idle timer, the original
 * destination (SO_ORIGINAL_DST), then the upstream connect and the relay. The direction's difference is the
 * {@link Upstream}: outbound asks the route decision ({@code outbound.OutboundUpstream}), inbound delivers to the
 * app inside the pod (the pod's plain connect; inbound policy and the tunnel's server side will sit there).
 */
@ChannelHandler.Sharable
public final class CaptureInitializer extends ChannelInitializer<Channel> {

    private final PodCapture pod;
    private final Direction direction;
    private final Upstream upstream;
    private final OriginalDestinationLookup originalDestination;

    public CaptureInitializer(PodCapture pod, Direction direction, Upstream upstream) {
        this.pod = pod;
        this.direction = direction;
        this.upstream = upstream;
        this.originalDestination = pod.transport()::originalDestination;
    }

    @Override
    protected void initChannel(Channel ch) {
        ChannelConnection connection = pod.track(ch, direction);
        long idleMillis = pod.currentSettings().idleTimeout().toMillis();
        ch.pipeline()
                .addLast("idle", new IdleTimeout(connection, idleMillis))
                .addLast("original-destination", new OriginalDestinationReader(connection, originalDestination))
                .addLast("upstream", new UpstreamConnector(connection, upstream));
    }
}
