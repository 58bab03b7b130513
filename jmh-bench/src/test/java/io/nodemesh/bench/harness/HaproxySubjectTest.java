package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * HAProxy behind the capture ({@code haproxy-captured}): the pod's rules have the proxy's layout with HAProxy's uid for
 * its mark, and a connection to the server's address reaches the server through HAProxy, counted by the REDIRECT rule.
 */
class HaproxySubjectTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @Test
    void theCaptureHasTheProxysLayoutWithHaproxysUidForItsMark() {
        List<String> rules = HaproxySubject.captureRules(65534).stream().map(r -> String.join(" ", r)).toList();

        assertThat(rules).containsExactly(
                "iptables -w -t nat -N HAPROXY_OUTPUT",
                "iptables -w -t nat -A OUTPUT -p tcp -j HAPROXY_OUTPUT",
                "iptables -w -t nat -A HAPROXY_OUTPUT -m owner --uid-owner 65534 -j RETURN",
                "iptables -w -t nat -A HAPROXY_OUTPUT -o lo -j RETURN",
                "iptables -w -t nat -A HAPROXY_OUTPUT -d 127.0.0.1/32 -j RETURN",
                "iptables -w -t nat -A HAPROXY_OUTPUT -p tcp -j REDIRECT --to-ports " + HaproxySubject.CAPTURED_PORT);
        assertThat(HaproxySubject.capturedConfig()).contains("user nobody", "bind 127.0.0.1:" + HaproxySubject.CAPTURED_PORT,
                "server s1 0.0.0.0\n");
    }

    @Test
    void aConnectionToTheServersAddressGoesThroughHaproxyToItsOriginalDestination(@TempDir Path dir) throws Exception {
        assumeTrue(Commands.run("haproxy", "-v").ok(), "haproxy is not installed (apt-get install haproxy)");
        Lan lan = net.lan("node");
        Netns server = lan.attach("server", "10.77.0.3/24");
        Netns client = lan.attach("client", "10.77.0.5/24");
        InetSocketAddress target = new InetSocketAddress("10.77.0.3", 8080);
        // Answers every connection with the address it came from, so the reply proves which way it went.
        ServerSocket listener = server.call(() -> new ServerSocket(8080, 16, InetAddress.ofLiteral("10.77.0.3")));
        Thread acceptor = Thread.ofVirtual().start(() -> {
            while (!listener.isClosed()) {
                try (Socket s = listener.accept()) {
                    s.getOutputStream().write(s.getInetAddress().getHostAddress().getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    // Closed at the end of the test; or a client gone before the answer (the readiness probe, whose
                    // reset can beat the write): then on to the next one.
                    if (listener.isClosed()) {
                        return;
                    }
                }
            }
        });
        HaproxySubject haproxy = HaproxySubject.start(client, target, -1, 0, dir, true);
        try {
            assertThat(haproxy.name()).isEqualTo("haproxy-captured");
            assertThat(haproxy.url()).isEqualTo("http://10.77.0.3:8080/");
            haproxy.beforeRun();
            assertThatThrownBy(() -> haproxy.afterRun(1)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("counted 0 new connections");

            String reply = client.call(() -> {
                try (Socket s = new Socket()) {
                    s.connect(target, 5_000);
                    s.setSoTimeout(5_000);
                    return new String(s.getInputStream().readAllBytes(), StandardCharsets.US_ASCII);
                }
            });

            assertThat(reply).isEqualTo("10.77.0.5");
            haproxy.afterRun(1);
            assertThat(client.exec("iptables-save", "-t", "nat").stdout()).contains("--uid-owner "
                    + Commands.run("id", "-u", "nobody").stdout().strip());
        } finally {
            haproxy.process().destroy();
            haproxy.process().waitFor();
            listener.close();
            acceptor.join();
        }
    }
}
