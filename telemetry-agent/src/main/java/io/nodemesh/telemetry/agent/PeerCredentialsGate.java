package io.nodemesh.telemetry.agent;

import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.channel.unix.PeerCredentials;
import io.nodemesh.telemetry.metrics.AgentSelfMetrics;
import java.io.IOException;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sits in the listening socket's pipeline, before gRPC's acceptor, and closes every accepted
 * connection whose peer uid (SO_PEERCRED) is not allowed. The socket file's mode 0660 already
 * keeps strangers out; this closes the short window between bind and chmod and covers a
 * group-writable socket shared with the wrong group.
 */
@Sharable
final class PeerCredentialsGate extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(PeerCredentialsGate.class);

    private final Set<Integer> allowedUids;
    private final AgentSelfMetrics self;

    PeerCredentialsGate(Set<Integer> allowedUids, AgentSelfMetrics self) {
        this.allowedUids = allowedUids;
        this.self = self;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (msg instanceof EpollDomainSocketChannel child) {
            int uid;
            try {
                PeerCredentials credentials = child.peerCredentials();
                uid = credentials.uid();
            } catch (IOException e) {
                uid = -1;
            }
            if (!allowedUids.contains(uid)) {
                self.peerRejected();
                LOG.warn("refused a report connection from uid {} (allowed: {})", uid, allowedUids);
                // Not registered with an event loop yet: close the descriptor directly.
                child.unsafe().closeForcibly();
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }
}
