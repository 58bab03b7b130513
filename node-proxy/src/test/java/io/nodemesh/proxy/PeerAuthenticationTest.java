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
 * Peer authentication on real captured traffic: a namespace labelled {@code nodemesh.io/peer-authentication: strict}
 * refuses plaintext at its pods' inbound capture (counted as a denial) and its relabelling to permissive admits the
 * next connection; a pod of a permissive namespace takes plaintext.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PeerAuthenticationTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void aStrictNamespaceRefusesPlaintextAndAPermissiveOneTakesIt() throws Exception {
        Netns outsider = mesh.pod("outsider");
        Netns server = mesh.pod("server");
        MeshFile strict = mesh.config().demoNamespace("nodemesh.io/peer-authentication: strict").capture(server);
        TestNode node = mesh.start(strict);
        mesh.own(EchoServer.start(server, 7000));
        InetSocketAddress to = new InetSocketAddress(server.ipv4(), 7000);

        assertThatThrownBy(() -> roundTrip(outsider, to)).isInstanceOf(IOException.class);
        MeshExtension.await("the refusal recorded", () -> node.closed.stream()
                .anyMatch(c -> c.direction() == Direction.INBOUND && c.outcome() == Outcome.DENIED));
        ClosedConnection refused = node.closed.stream().filter(c -> c.outcome() == Outcome.DENIED).findFirst()
                .orElseThrow();
        assertThat(refused.source().getAddress()).isEqualTo(outsider.ipv4());
        assertThat(node.proxy.pod("demo/server").orElseThrow().stats(Direction.INBOUND).snapshot().opened())
                .as("the connection reached the server's inbound capture").isEqualTo(1);

        node.rewrite(mesh.config().demoNamespace("nodemesh.io/peer-authentication: permissive").capture(server));
        assertThat(roundTrip(outsider, to)).isEqualTo("plaintext");
        assertThat(node.proxy.pod("demo/server").orElseThrow().stats(Direction.INBOUND).snapshot().opened())
                .as("the same capture, not a new one").isEqualTo(2);
    }

    private static String roundTrip(Netns from, InetSocketAddress to) throws Exception {
        try (SocketChannel ch = EchoServer.connect(from, to)) {
            return EchoServer.roundTrip(ch, "plaintext");
        }
    }
}
