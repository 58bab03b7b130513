package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ProxyCommandTest {

    @TempDir
    Path dir;

    private final StringWriter err = new StringWriter();

    private CommandLine cli(ProxyCommand command) {
        return new CommandLine(command).setErr(new PrintWriter(err, true));
    }

    @Test
    void anUnusableConfigExitsTwoNamingTheLine() throws Exception {
        Path file = dir.resolve("mesh.yaml");
        Files.writeString(file, "proxy:\n  drainTimeout: soon\n");
        int status = cli(new ProxyCommand()).execute("--config", file.toString());
        assertThat(status).isEqualTo(2);
        assertThat(err.toString()).contains(file + ":2:17: proxy.drainTimeout: 'soon' is not a duration");
    }

    @Test
    void aMissingConfigExitsTwo() {
        int status = cli(new ProxyCommand()).execute("--config", dir.resolve("nope.yaml").toString());
        assertThat(status).isEqualTo(2);
        assertThat(err.toString()).contains("nope.yaml: no such file");
    }

    @Test
    void badOptionsAreUsageErrors() throws Exception {
        Path file = dir.resolve("mesh.yaml");
        Files.writeString(file, "");
        assertThat(cli(new ProxyCommand()).execute("--config", file.toString(), "--transport", "dpdk")).isEqualTo(2);
        assertThat(err.toString()).contains("--transport: 'dpdk' is not one of epoll, io_uring, nio");
        assertThat(cli(new ProxyCommand()).execute("--config", file.toString(), "--capture", "nat")).isEqualTo(2);
        assertThat(err.toString()).contains("--capture: 'nat' is not one of redirect, tproxy, ebpf");

        assertThat(cli(new ProxyCommand()).execute("--config", file.toString(), "--admin", "localhost")).isEqualTo(2);
        assertThat(cli(new ProxyCommand()).execute("--config", file.toString(), "--readiness", "15021")).isEqualTo(2);
        assertThat(err.toString()).contains("--readiness: '15021' is not HOST:PORT");
        assertThat(cli(new ProxyCommand()).execute()).isEqualTo(2);
    }

    @Test
    void aCaptureThatTheTransportOrTheRulesCannotHaveExitsTwoNamingTheCapture() throws Exception {
        Path file = Files.writeString(dir.resolve("mesh.yaml"), "proxy:\n  rules: none\npods: []\n");
        assertThat(cli(new ProxyCommand()).execute("--config", file.toString(), "--no-telemetry", "--capture", "tproxy",
                "--transport", "nio")).isEqualTo(2);
        assertThat(err.toString()).contains("proxy.capture: tproxy needs the epoll transport");
        Files.writeString(file, "proxy:\n  rules: iptables\npods: []\n");
        assertThat(cli(new ProxyCommand()).execute("--config", file.toString(), "--no-telemetry", "--capture", "tproxy"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("proxy.capture: tproxy needs rules nft or none");
    }

    @Test
    void theHostedAgentsOptionsAreCheckedAndAnAgentThatCannotStartStopsTheProxyFromStarting() throws Exception {
        Path file = Files.writeString(dir.resolve("mesh.yaml"), "proxy:\n  rules: none\npods: []\n");
        String config = file.toString();
        assertThat(cli(new ProxyCommand()).execute("--config", config, "--metrics-address", "127.0.0.1:0"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("--metrics-address is the telemetry agent's: it goes with --agent-in-process");
        assertThat(cli(new ProxyCommand()).execute("--config", config, "--agent-in-process", "--no-telemetry"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("--agent-in-process and --no-telemetry contradict");
        assertThat(cli(new ProxyCommand()).execute("--config", config, "--agent-in-process", "--nice-increment", "20"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("--nice-increment must be 0..19, got 20");

        // The hosted agent has no socket: the proxy hands it its reports.
        assertThat(cli(new ProxyCommand()).execute("--config", config, "--agent-in-process", "--telemetry-socket",
                dir.resolve("telemetry.sock").toString())).isEqualTo(2);
        assertThat(err.toString()).contains("--telemetry-socket: the agent in this process takes the proxy's reports "
                + "directly, without a socket");

        // The agent's metrics address is taken: the agent does not start, so neither does the proxy (it would report
        // into nothing), and nothing of either is left. --nice-increment 0: this JVM is the test run.
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            ProxyCommand command = new ProxyCommand();
            assertThat(cli(command).execute("--config", config, "--agent-in-process", "--nice-increment", "0",
                    "--metrics-address", "127.0.0.1:" + taken.getLocalPort(), "--admin", "127.0.0.1:0",
                    "--admin-socket", dir.resolve("admin.sock").toString(), "--readiness", "127.0.0.1:0"))
                    .isEqualTo(1);
            assertThat(err.toString()).contains("nodemesh proxy: the telemetry agent did not start: cannot serve "
                    + "/metrics on 127.0.0.1:" + taken.getLocalPort() + ": ");
            assertThat(command.proxy()).isNull();
            assertThat(dir.resolve("admin.sock")).doesNotExist();
        }
    }

    @Test
    void kubernetesNeedsTheNodeNameAndAReadableKubeconfig() {
        ProxyCommand noNode = new ProxyCommand(null, name -> null);
        assertThat(cli(noNode).execute("--kubernetes", "--no-telemetry")).isEqualTo(2);
        assertThat(err.toString()).contains("--kubernetes needs this node's name: --node-name NAME, or NODE_NAME set");

        ProxyCommand fromEnv = new ProxyCommand(null, name -> name.equals("NODE_NAME") ? "node-a" : null);
        Path missing = dir.resolve("kubeconfig");
        assertThat(cli(fromEnv).execute("--kubernetes", "--kubeconfig", missing.toString(), "--no-telemetry"))
                .isEqualTo(2);
        assertThat(err.toString()).contains("nodemesh proxy: " + missing);

        assertThat(cli(new ProxyCommand()).execute("--config", missing.toString(), "--node-name", "x")).isEqualTo(2);
        assertThat(err.toString()).contains("--kubeconfig and --node-name go with --kubernetes");
    }

    @Test
    void theNamespaceScanReadsTheProcGivenByHostProc() throws Exception {
        // A proc root without this process in it: the scan names it, so the finder looked there and not in /proc.
        Path hostProc = Files.createDirectory(dir.resolve("host-proc"));
        assertThatThrownBy(() -> ProxyCommand.netnsFinder(hostProc).find(List.of(InetAddress.getByName("10.9.8.7"))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(hostProc.resolve("self/ns/net").toString());
        assertThat(ProxyCommand.netnsFinder(Path.of("/proc")).find(List.of(InetAddress.getByName("10.9.8.7"))))
                .isEmpty();
    }

    @Test
    void runsUntilStoppedWithOverridesApplied() throws Exception {
        Path file = dir.resolve("mesh.yaml");
        Files.writeString(file, "proxy:\n  rules: none\n  drainTimeout: 1s\npods: []\n");
        ProxyCommand command = new ProxyCommand();
        CompletableFuture<Integer> status = CompletableFuture.supplyAsync(() -> cli(command).execute(
                "--config", file.toString(), "--admin", "127.0.0.1:0", "--admin-socket", dir.resolve("admin.sock").toString(),
                "--readiness", "127.0.0.1:0", "--workers", "1", "--transport", "io_uring"));
        while (command.proxy() == null && !status.isDone()) {
            Thread.sleep(20);
        }
        assertThat(status).isNotDone();
        assertThat(command.proxy().boot().workers()).isEqualTo(1);
        int port = command.proxy().adminAddress().getPort();
        HttpResponse<String> health = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(health.body()).isEqualTo("ok\n");
        assertThat(command.proxy().adminSocket()).isEqualTo(dir.resolve("admin.sock"));
        HttpResponse<String> ready = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + command.proxy().readinessAddress().getPort() + "/healthz/ready")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(ready.statusCode()).isEqualTo(200);
        command.stop();
        assertThat(status.get(30, TimeUnit.SECONDS)).isZero();
    }
}
