package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A crash with the listener keeper (docs/upgrade.md, "A restart: the listener keeper"), with processes as on a node:
 * {@code nodemesh-keeper}, and a {@code nodemesh proxy} process from the built nodemesh.jar killed with SIGKILL (as the
 * OOM killer does: no drain, no handover, a stale handover socket left behind) under 200 new connections a second;
 * a second process started on the same run dir takes the pods' listeners over from the keeper. No connection is
 * refused; those made while no proxy ran wait and are served. Runs after {@code package} (failsafe).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class RestartDrillIT {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static final Duration START = Duration.ofSeconds(60);

    @Test
    void aProxyKilledUnderLoadIsRestartedAndNoConnectionIsRefused() throws Exception {
        assertThat(ProxyProcess.JAR).as("nodemesh.jar, built by package").isRegularFile();
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Path config = Files.writeString(mesh.dir().resolve("mesh.yaml"), mesh.config().capture(a).yaml());
        Path run = mesh.dir().resolve("run");
        KeeperProcess keeper = mesh.own(KeeperProcess.start(run.resolve("keeper.sock")));
        List<String> args = List.of("--config", config.toString(), "--transport", "epoll", "--no-telemetry",
                "--admin", "127.0.0.1:0", "--readiness", "127.0.0.1:0",
                "--admin-socket", run.resolve("admin.sock").toString(),
                "--handover-socket", run.resolve("handover.sock").toString(),
                "--keeper-socket", keeper.socket.toString());
        Path logs = Files.createDirectories(Path.of("target", "restart-drill")); // kept for a look after a failure

        ProxyProcess first = mesh.own(ProxyProcess.start("first", logs, args));
        first.awaitLine("proxy started", START);
        first.awaitLine("listener keeper at " + keeper.socket + ": holding", START);
        mesh.own(EchoServer.start(b, 7000, 4096));
        // Connections that wait for the next proxy wait as long as its JVM takes to start: give them 30 s.
        ConnectionChurn churn = mesh.own(ConnectionChurn.start(a.executor(), new InetSocketAddress(b.ipv4(), 7000),
                200, 30_000));
        Thread.sleep(2000);
        long okBefore = churn.ok();

        long killed = System.nanoTime();
        int status = first.kill();
        int from = keeper.lineCount();
        keeper.awaitLine("stopped holding", 0);
        assertThat(run.resolve("handover.sock")).as("a killed proxy leaves its handover socket behind").exists();
        ProxyProcess second = mesh.own(ProxyProcess.start("second", logs, args));
        String started = second.awaitLine("proxy started", START);
        long servedMillis = (System.nanoTime() - killed) / 1_000_000;
        keeper.awaitLine("takes over 1 pod(s)' listeners", from);
        assertThat(second.awaitLine("pod demo/a: took over the listeners", START)).isNotEmpty();
        Thread.sleep(1000);
        churn.close();

        System.out.printf("restart drill: SIGKILL (status %d), the next proxy started %d ms later; new connections: "
                        + "%d ok (%d before the kill), %d failed %s; %s%n", status, servedMillis, churn.ok(), okBefore,
                churn.failed(), churn.failureKinds(), started);
        assertThat(status).as("killed by SIGKILL").isEqualTo(137);
        assertThat(churn.failed()).as("new connections failed (first: %s; when: %s)", churn.firstFailure(),
                churn.failureTimeline(killed)).isZero();
        assertThat(churn.ok()).as("connections made while no proxy ran were served too")
                .isGreaterThan(okBefore + servedMillis * 200 / 1000 / 2);
        assertThat(second.log()).doesNotContain("LEAK:");
    }
}
