package io.nodemesh.proxy.outbound;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.nodemesh.proxy.capture.OriginalDestinationReader;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.relay.IdleTimeout;
import io.nodemesh.proxy.relay.UpstreamConnector;
import io.nodemesh.proxy.model.Direction;

/**
 * The pipeline of a connection the pod opened (captured on the outbound port): read where it was
 * headed, connect there from the pod's namespace, relay. Destinations outside the mesh are plain
 * TCP pass-through; the tunnel to meshed destinations will slot in before the connector.
 */
@ChannelHandler.Sharable
public final class OutboundInitializer extends ChannelInitializer<Channel> {

    private final PodCapture pod;

    public OutboundInitializer(PodCapture pod) {
        this.pod = pod;
    }

    @Override
    protected void initChannel(Channel ch) {
        Connection connection = pod.track(ch, Direction.OUTBOUND);
        long idleMillis = pod.currentSettings().idleTimeout().toMillis();
        ch.pipeline()
                .addLast("idle", new IdleTimeout(connection, idleMillis))
                .addLast("original-destination", new OriginalDestinationReader(connection, pod.transport()))
                .addLast("upstream", new UpstreamConnector(connection, pod::upstreamBootstrap));
    }
}
