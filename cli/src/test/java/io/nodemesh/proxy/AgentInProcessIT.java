package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.linux.Scheduling;
import io.nodemesh.telemetry.http.MetricsScrape;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code nodemesh proxy --agent-in-process} as a node would run it (issue 23's "a mode that hosts the agent in the
 * proxy's process"): one process from the built nodemesh.jar with the daemons' flags, capturing a pod whose
 * connections are then in the hosted agent's Istio metrics, handed over without a socket or gRPC (not one gRPC class
 * is loaded); the agent's threads run 10 nice levels below the proxy's; SIGTERM stops both. Runs after {@code package}
 * (failsafe).
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class AgentInProcessIT {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static final Duration START = Duration.ofSeconds(60);
    private static final Pattern METRICS = Pattern.compile("metrics on http://([0-9.]+:[0-9]+)/metrics");

    @Test
    void theProxyHostsTheAgentAndItsConnectionsAreInTheMetrics() throws Exception {
        assertThat(ProxyProcess.JAR).as("nodemesh.jar, built by package").isRegularFile();
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Path config = Files.writeString(mesh.dir().resolve("mesh.yaml"), mesh.config().capture(a).yaml());
        Path classes = mesh.dir().resolve("classes.log");
        ProxyProcess proxy = mesh.own(ProxyProcess.start("proxy", mesh.dir(),
                List.of("-Xlog:class+load=info:file=" + classes), "proxy", List.of("--config", config.toString(),
                "--transport", "epoll", "--admin", "127.0.0.1:0", "--readiness", "127.0.0.1:0",
                "--admin-socket", mesh.dir().resolve("admin.sock").toString(),
                "--agent-in-process", "--metrics-address", "127.0.0.1:0")));
        Matcher metricsAt = METRICS.matcher(proxy.awaitLine("telemetry agent in this process", START));
        assertThat(metricsAt.find()).isTrue();
        proxy.awaitLine("proxy started", START);

        mesh.own(EchoServer.start(b, 7000, 4096));
        ExecutorService inA = a.executor();
        ConnectionChurn churn = mesh.own(ConnectionChurn.start(inA, new InetSocketAddress(b.ipv4(), 7000), 100));
        Thread.sleep(2000);
        churn.close();
        assertThat(churn.ok()).isGreaterThan(50);
        assertThat(churn.failed()).isZero();

        // The reports are handed to the hosted agent directly; it aggregates within a second.
        String[] at = metricsAt.group(1).split(":");
        InetSocketAddress metrics = new InetSocketAddress(at[0], Integer.parseInt(at[1]));
        long closed = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (closed < churn.ok() && System.nanoTime() < deadline) {
            Thread.sleep(200);
            closed = (long) MetricsScrape.sum(MetricsScrape.fetch(metrics), "istio_tcp_connections_closed_total",
                    "source_workload=\"a\"");
        }
        assertThat(closed).as("connections from pod a closed, in the hosted agent's metrics").isEqualTo(churn.ok());

        // Every thread the hosted agent started, now that reports have come in, (and the proxy's own reporting threads, lowered by the reporter) is
        // 10 nice levels below the rest of the process, which keeps its priority. Linux shows 15 characters of a name.
        Map<String, Integer> nices = nices(proxy.pid());
        int base = Scheduling.currentThreadNice();
        int lowered = Math.min(Scheduling.MAX_NICE, base + 10);
        assertThat(nices.keySet()).anyMatch(t -> t.startsWith("telemetry-repor"))
                .anyMatch(t -> t.startsWith("telemetry-http"))
                .noneMatch(t -> t.startsWith("telemetry-accep") || t.startsWith("telemetry-io")
                        || t.startsWith("telemetry-clien")); // the socket's threads, on either side
        assertThat(Files.readAllLines(classes)).as("gRPC is not loaded: the reports do not cross a socket")
                .noneMatch(l -> l.contains(" io.grpc."))
                .anyMatch(l -> l.contains(" io.nodemesh.telemetry.agent.ReportIntake "));
        nices.forEach((thread, nice) -> assertThat(nice).as(thread).isEqualTo(thread.startsWith("telemetry-") ? lowered
                : base));
        assertThat(nices.keySet().stream().filter(t -> !t.startsWith("telemetry-")).count()).isGreaterThan(5);

        int exit = proxy.terminate(Duration.ofSeconds(30));
        assertThat(exit).as(proxy.log()).isIn(0, 143);
        assertThat(proxy.log()).contains("telemetry agent stopped");
        assertThatThrownBy(() -> MetricsScrape.fetch(metrics)).isInstanceOf(ConnectException.class);
    }

    /** Each thread's nice value by its name as Linux keeps it ({@code comm}, 15 characters), with its tid. */
    private static Map<String, Integer> nices(long pid) throws IOException {
        Map<String, Integer> nices = new HashMap<>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : tasks) {
                try {
                    String name = Files.readString(task.resolve("comm")).strip();
                    nices.put(name + " (" + task.getFileName() + ")", Scheduling.niceOf(task.resolve("stat")));
                } catch (IOException e) {
                    // the thread ended meanwhile
                }
            }
        }
        return nices;
    }
}
