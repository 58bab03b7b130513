package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.cli.NodemeshCommand;
import io.nodemesh.topology.Netns;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import picocli.CommandLine;

/** {@code nodemesh status} and {@code nodemesh connections} against a running proxy, the way an operator debugs a node. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DebugCommandsTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int nodemesh(String... args) {
        CommandLine cli = NodemeshCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void statusAndConnectionsShowWhatTheProxyCapturesAndWhatFailed() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        String ghost = """
                  - name: ghost
                    namespace: demo
                    netns: /var/run/netns/nodemesh-test-no-such-pod
                """;
        TestNode node = mesh.start(mesh.config().capture(a).entry(ghost));
        mesh.own(EchoServer.start(b, 8080));
        SocketChannel held = mesh.own(EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 8080)));
        assertThat(EchoServer.roundTrip(held, "hello")).isEqualTo("hello");
        try (SocketChannel done = EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 8080))) {
            assertThat(EchoServer.roundTrip(done, "bye")).isEqualTo("bye");
        }
        MeshExtension.await("one closed", () -> node.closed.size() == 1);
        String admin = "127.0.0.1:" + node.proxy.adminAddress().getPort();

        assertThat(nodemesh("status", "--admin", admin)).as(err.toString()).isZero();
        String status = out.toString();
        assertThat(status).contains("transport epoll");
        assertThat(status).containsPattern("demo/a\\s+listening\\s+10\\.77\\.0\\.2\\s+1 open, 1 closed \\(OK=1\\)");
        assertThat(status).containsPattern("demo/ghost\\s+failed");
        assertThat(status).contains("/var/run/netns/nodemesh-test-no-such-pod");

        out.getBuffer().setLength(0);
        assertThat(nodemesh("connections", "--admin", admin, "--pod", "demo/a")).as(err.toString()).isZero();
        String connections = out.toString();
        assertThat(connections).contains("open (1)", "recently closed, newest first (1)");
        assertThat(connections).containsPattern("demo/a\\s+outbound\\s+10\\.77\\.0\\.2:\\d+\\s+10\\.77\\.0\\.3:8080\\s+5\\s+5");
        assertThat(connections).containsPattern("10\\.77\\.0\\.3:8080\\s+3\\s+3\\s+\\d+ ms\\s+OK");
    }

    @Test
    void saysClearlyWhenNoProxyListens() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        assertThat(nodemesh("status", "--admin", "127.0.0.1:" + port)).isEqualTo(1);
        assertThat(err.toString()).contains("nodemesh status: cannot reach the proxy's admin API at http://127.0.0.1:" + port);
        assertThat(nodemesh("connections", "--admin", "nonsense")).isEqualTo(2);
        assertThat(err.toString()).contains("'nonsense' is not HOST:PORT");
    }
}
