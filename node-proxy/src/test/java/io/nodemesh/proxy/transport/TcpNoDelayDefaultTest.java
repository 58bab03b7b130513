package io.nodemesh.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.channel.socket.SocketChannelConfig;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The proxy sets no {@code TCP_NODELAY} of its own: each of Netty's socket channel configs (epoll, io_uring, NIO; the
 * accepted sockets' channels use the same config classes) turns it on when the channel is made, and a second
 * {@code setsockopt} per socket was two system calls per relayed connection (jmh-bench/RESULTS.md, churn system
 * calls). This holds Netty to that default: Nagle's algorithm on a relay's sockets would hold small writes back.
 */
class TcpNoDelayDefaultTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @Test
    void everyTransportsUpstreamSocketsHaveNagleOff() throws Exception {
        Netns pod = net.namespace("pod");
        try (NetworkNamespace ns = NetworkNamespace.open(pod.path())) {
            for (TransportKind kind : TransportKind.values()) {
                Transport transport = Transport.select(kind, notice -> { });
                if (transport.kind() != kind) {
                    continue; // not available here: select fell back, and the fallback is checked on its own turn
                }
                Channel ch = transport.socketChannels(ns, 0x539, () -> true, TcpKeepalive::off).newChannel();
                try {
                    assertThat(((SocketChannelConfig) ch.config()).isTcpNoDelay()).as(kind.toString()).isTrue();
                } finally {
                    ch.unsafe().closeForcibly();
                }
            }
        }
    }
}
