package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Authorization at the destination on real captured traffic: a DENY policy on the client's address resets that
 * client's connections at the server's inbound capture and lets another client through; a changed policy applies to
 * the next connection.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PolicyTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static String denyFrom(Netns client) {
        return """
                  - name: deny-one
                    namespace: demo
                    action: DENY
                    rules: [{from: [{source: {ipBlocks: [%s/32]}}], to: [{operation: {ports: ["7000"]}}]}]
                """.formatted(client.ipv4().getHostAddress());
    }

    @Test
    void aDenyPolicyResetsItsSourceAtTheDestinationAndLetsOthersThrough() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Netns server = mesh.pod("server");
        TestNode node = mesh.start(mesh.config().capture(a, b, server).policy(denyFrom(a)));
        mesh.own(EchoServer.start(server, 7000));
        InetSocketAddress to = new InetSocketAddress(server.ipv4(), 7000);

        assertThatThrownBy(() -> roundTrip(a, to)).isInstanceOf(IOException.class);
        assertThat(roundTrip(b, to)).isEqualTo("allowed");
        MeshExtension.await("the denial recorded", () -> node.closed.stream()
                .anyMatch(c -> c.direction() == Direction.INBOUND && c.outcome() == Outcome.DENIED));
        ClosedConnection denied = node.closed.stream().filter(c -> c.outcome() == Outcome.DENIED).findFirst()
                .orElseThrow();
        assertThat(denied.source().getAddress()).isEqualTo(a.ipv4());
        assertThat(node.proxy.pod("demo/server").orElseThrow().stats(Direction.INBOUND).snapshot().opened())
                .as("both reached the server's inbound capture").isEqualTo(2);

        // The policy goes: a's next connection is allowed.
        node.rewrite(mesh.config().capture(a, b, server));
        assertThat(roundTrip(a, to)).isEqualTo("allowed");
    }

    private static String roundTrip(Netns from, InetSocketAddress to) throws Exception {
        try (SocketChannel ch = EchoServer.connect(from, to)) {
            return EchoServer.roundTrip(ch, "allowed");
        }
    }
}
