package io.nodemesh.proxy.inbound;

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
 * The pipeline of a plaintext connection to the pod (captured on the inbound port): read the pod
 * address and port it was headed for, connect there from inside the pod with the proxy's mark (so
 * it is not captured again), relay. Inbound policy will sit before the connector.
 */
@ChannelHandler.Sharable
public final class InboundInitializer extends ChannelInitializer<Channel> {

    private final PodCapture pod;

    public InboundInitializer(PodCapture pod) {
        this.pod = pod;
    }

    @Override
    protected void initChannel(Channel ch) {
        Connection connection = pod.track(ch, Direction.INBOUND);
        long idleMillis = pod.currentSettings().idleTimeout().toMillis();
        ch.pipeline()
                .addLast("idle", new IdleTimeout(connection, idleMillis))
                .addLast("original-destination", new OriginalDestinationReader(connection, pod.transport()))
                .addLast("upstream", new UpstreamConnector(connection, pod::upstreamBootstrap));
    }
}
