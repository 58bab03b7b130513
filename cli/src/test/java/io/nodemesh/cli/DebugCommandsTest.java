package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.cli.CommandRun;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** {@code nodemesh status} and {@code nodemesh connections} against a running proxy, the way an operator debugs a node. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DebugCommandsTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private final CommandRun cli = new CommandRun();

    /** Whether a restart would refuse the pods' connections: the keeper's line, holding and not. */
    @Test
    void statusSaysWhetherTheListenerKeeperHoldsThePodsListeners() throws Exception {
        Netns a = mesh.pod("a");
        KeeperProcess keeper = mesh.own(KeeperProcess.start(mesh.dir().resolve("run/keeper.sock")));
        TestNode node = mesh.start(mesh.config().capture(a), b -> b.keeperSocket(keeper.socket));
        String admin = "127.0.0.1:" + node.proxy.adminAddress().getPort();
        assertThat(cli.nodemesh("status", "--admin", admin)).as(cli.err()).isZero();
        assertThat(cli.out()).contains("keeper    " + keeper.socket + ": holds the listeners of 1 pod(s) through a "
                + "restart");

        keeper.stop();
        MeshExtension.await("the proxy sees the keeper gone (it looks every 5 s)",
                () -> !node.proxy.keeper().orElseThrow().status().holding());
        cli.clearOut();
        assertThat(cli.nodemesh("status", "--admin", admin)).as(cli.err()).isZero();
        assertThat(cli.out()).contains("keeper    " + keeper.socket + ": NOT holding (")
                .contains("): a restart refuses the pods' new connections until the proxy listens again");
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

        assertThat(cli.nodemesh("status", "--admin", admin)).as(cli.err()).isZero();
        String status = cli.out();
        assertThat(status).contains("transport epoll");
        assertThat(status).containsPattern("demo/a\\s+listening\\s+10\\.77\\.0\\.2\\s+1 open, 1 closed \\(OK 1\\), 3 B out, 3 B back");
        assertThat(status).containsPattern("demo/ghost\\s+failed");
        assertThat(status).contains("/var/run/netns/nodemesh-test-no-such-pod");

        cli.clearOut();
        assertThat(cli.nodemesh("connections", "--admin", admin, "--pod", "demo/a")).as(cli.err()).isZero();
        String connections = cli.out();
        assertThat(connections).contains("open (1)", "recently closed, newest first (1)", "BYTES OUT  BYTES BACK");
        assertThat(connections).containsPattern(
                "demo/a\\s+outbound\\s+10\\.77\\.0\\.2:\\d+\\s+10\\.77\\.0\\.3:8080\\s+plaintext\\s+none\\s+-\\s+5 B\\s+5 B");
        assertThat(connections).containsPattern("10\\.77\\.0\\.3:8080\\s+plaintext\\s+none\\s+-\\s+3 B\\s+3 B\\s+\\d+ ms\\s+OK");
    }

    @Test
    void connectionsShowTheTunnelItsSecurityAndTheIdentityAtTheFarEnd() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = startWithCa(a, b);
        mesh.own(EchoServer.start(b, 8080));
        SocketChannel held = mesh.own(EchoServer.connect(a, new InetSocketAddress(b.ipv4(), 8080)));
        assertThat(EchoServer.roundTrip(held, "hello")).isEqualTo("hello");
        String unix = "unix:" + node.proxy.adminSocket();

        assertThat(cli.nodemesh("connections", "--admin", unix, "--pod", "demo/a")).as(cli.err()).isZero();
        assertThat(cli.out()).contains("open (1)");
        assertThat(cli.out()).containsPattern("demo/a\\s+outbound\\s+10\\.77\\.0\\.2:\\d+\\s+10\\.77\\.0\\.3:8080\\s+"
                + "tunnel 10\\.77\\.0\\.3:15008\\s+mutual_tls\\s+spiffe://cluster\\.local/ns/demo/sa/b\\s+5 B\\s+5 B");
        cli.clearOut();
        assertThat(cli.nodemesh("connections", "--admin", unix, "--pod", "demo/b")).as(cli.err()).isZero();
        assertThat(cli.out()).contains("open (1)");
        assertThat(cli.out()).containsPattern("demo/b\\s+inbound\\s+10\\.77\\.0\\.2:0\\s+10\\.77\\.0\\.3:8080\\s+"
                + "tunnel 10\\.77\\.0\\.2:\\d+\\s+mutual_tls\\s+spiffe://cluster\\.local/ns/demo/sa/a\\s+5 B\\s+5 B");

        cli.clearOut();
        assertThat(cli.nodemesh("connections", "--admin", unix, "-o", "json")).as(cli.err()).isZero();
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        assertThat(json.readTree(cli.out())).isEqualTo(json.readTree(node.admin("/connections?recent=20")));
    }

    @Test
    void workloadsServicesAndConfigDumpShowWhatTheAdminApiServesInBothFormats() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        String ghost = """
                  - name: ghost
                    namespace: demo
                    netns: /var/run/netns/nodemesh-test-no-such-pod
                """;
        String remote = """
                  - name: remote
                    namespace: other
                    ips: [10.78.0.5]
                    node: node-2
                """;
        TestNode node = mesh.start(mesh.config().capture(a, b)
                .service("web", java.net.InetAddress.ofLiteral("10.77.0.100"), 80, 8080, java.util.List.of(a, b),
                        java.util.List.of(b))
                .entry(ghost).entry(remote));
        String tcp = "127.0.0.1:" + node.proxy.adminAddress().getPort();
        String unix = "unix:" + node.proxy.adminSocket();

        for (String admin : new String[] {tcp, unix}) {
            cli.clearOut();
            assertThat(cli.nodemesh("workloads", "--admin", admin)).as(cli.err()).isZero();
            assertThat(cli.out()).isEqualTo("""
                    NAMESPACE  POD     ADDRESS    NODE    CAPTURE
                    demo       a       10.77.0.2  -       captured
                    demo       b       10.77.0.3  -       captured
                    demo       ghost   -          -       failed(netns_not_found)
                    other      remote  10.78.0.5  node-2  -
                    """);
            cli.clearOut();
            assertThat(cli.nodemesh("services", "--admin", admin)).as(cli.err()).isZero();
            assertThat(cli.out()).isEqualTo("""
                    NAMESPACE  NAME  VIP          ENDPOINTS
                    demo       web   10.77.0.100  1/2
                    """);
        }
        cli.clearOut();
        assertThat(cli.nodemesh("workloads", "--admin", unix, "-n", "other")).isZero();
        assertThat(cli.out().lines()).hasSize(2).last().asString().startsWith("other      remote");

        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        for (String[] page : new String[][] {{"workloads", "/workloads"}, {"services", "/services"},
                {"status", "/stats"}}) {
            cli.clearOut();
            assertThat(cli.nodemesh(page[0], "--admin", unix, "-o", "json")).as(cli.err()).isZero();
            assertThat(json.readTree(cli.out())).as(page[0]).isEqualTo(json.readTree(node.admin(page[1])));
        }
        cli.clearOut();
        assertThat(cli.nodemesh("config-dump", "--admin", tcp)).as(cli.err()).isZero();
        var dump = json.readTree(cli.out());
        assertThat(dump).isEqualTo(json.readTree(node.admin("/config_dump")));
        assertThat(dump.path("pods")).hasSize(4);
        assertThat(dump.path("boot").path("adminSocket").asText()).isEqualTo(node.proxy.adminSocket().toString());
    }

    @Test
    void policiesSaysWhatGovernsEachCapturedWorkloadInBothFormats() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().demoNamespace("nodemesh.io/peer-authentication: strict").capture(a, b)
                .policy("""
                          - name: no-dev
                            namespace: demo
                            action: DENY
                            rules: [{from: [{source: {namespaces: [dev]}}]}]
                        """));
        String unix = "unix:" + node.proxy.adminSocket();

        assertThat(cli.nodemesh("policies", "--admin", unix)).as(cli.err()).isZero();
        assertThat(cli.out()).isEqualTo("""
                WORKLOAD  PEER AUTH  POLICIES      EFFECT
                demo/a    strict     no-dev(DENY)  connections a DENY policy matches are denied [demo/no-dev]; the rest are allowed; plaintext is refused (peer authentication strict)
                demo/b    strict     no-dev(DENY)  connections a DENY policy matches are denied [demo/no-dev]; the rest are allowed; plaintext is refused (peer authentication strict)
                """);

        cli.clearOut();
        assertThat(cli.nodemesh("policies", "--admin", unix, "--workload", "demo/b", "-o", "json")).as(cli.err())
                .isZero();
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        var answer = json.readTree(cli.out());
        assertThat(answer).isEqualTo(json.readTree(node.admin("/policies?workload=demo/b")));
        assertThat(answer.path("workloads")).hasSize(1);
        assertThat(answer.path("workloads").get(0).path("policies").get(0).path("rules").get(0).path("from").get(0)
                .path("source").path("namespaces").get(0).asText()).isEqualTo("dev");

        assertThat(cli.nodemesh("policies", "--admin", unix, "--workload", "demo/nobody")).isEqualTo(1);
        assertThat(cli.err()).contains("answered 404: no workload demo/nobody in the snapshot in force");
    }

    @Test
    void certsListsTheCertificateOfEachCapturedAccountInBothFormats() throws Exception {
        TestNode node = startWithCa(mesh.pod("a"), mesh.pod("b"));
        java.nio.file.Path caDir = mesh.dir().resolve("ca");
        String unix = "unix:" + node.proxy.adminSocket();

        assertThat(cli.nodemesh("certs", "--admin", unix)).as(cli.err()).isZero();
        assertThat(cli.out().lines().toList()).hasSize(3);
        assertThat(cli.out().lines().findFirst().orElseThrow().split("\\s{2,}")).containsExactly("IDENTITY", "SERIAL",
                "NOT BEFORE", "NOT AFTER", "STATE", "RENEWALS", "LAST ERROR");
        assertThat(cli.out()).containsPattern(
                "spiffe://cluster\\.local/ns/demo/sa/a\\s+[0-9a-f]+\\s+\\S+Z\\s+\\S+Z\\s+valid\\s+0\\s+-");
        assertThat(cli.out()).contains("spiffe://cluster.local/ns/demo/sa/b");

        cli.clearOut();
        assertThat(cli.nodemesh("certs", "--admin", unix, "-o", "json")).as(cli.err()).isZero();
        com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
        var answer = json.readTree(cli.out());
        assertThat(answer.path("ca").asText()).isEqualTo(caDir.toString());
        assertThat(answer.path("certificates")).hasSize(2);
        assertThat(answer.path("certificates").get(0).path("state").asText()).isEqualTo("valid");
    }

    /** A node with a mesh CA (in the mesh's {@code ca/}) capturing {@code a} and {@code b}, both holding certificates. */
    private static TestNode startWithCa(Netns a, Netns b) throws Exception {
        java.nio.file.Path caDir = mesh.dir().resolve("ca");
        io.nodemesh.proxy.identity.MeshCa.create("cluster.local", java.time.Duration.ofDays(1)).write(caDir, false);
        TestNode node = mesh.start(mesh.config().identity(caDir, "2m").capture(a, b));
        var identities = node.proxy.identities().orElseThrow();
        for (String sa : new String[] {"a", "b"}) {
            identities.ready(new io.nodemesh.proxy.model.SpiffeId("cluster.local", "demo", sa)).get(10, TimeUnit.SECONDS);
        }
        return node;
    }

    @Test
    void certsSaysWhenTheProxyHasNoMeshCa() throws Exception {
        TestNode node = mesh.start(mesh.config().capture(mesh.pod("a")));
        assertThat(cli.nodemesh("certs", "--admin", "unix:" + node.proxy.adminSocket())).as(cli.err()).isZero();
        assertThat(cli.out()).isEqualTo(
                "no mesh CA configured (proxy.identity.caDir): no workload certificates, no mutual TLS\n");
    }

    @Test
    void saysClearlyWhenNoProxyListens() throws Exception {
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        assertThat(cli.nodemesh("status", "--admin", "127.0.0.1:" + port)).isEqualTo(1);
        assertThat(cli.err()).contains("nodemesh status: cannot reach the proxy's admin API at http://127.0.0.1:" + port);
        assertThat(cli.nodemesh("connections", "--admin", "nonsense")).isEqualTo(2);
        assertThat(cli.err()).contains("'nonsense' is not HOST:PORT");
    }
}
