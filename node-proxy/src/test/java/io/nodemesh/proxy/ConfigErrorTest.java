package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.topology.Lan;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Operator mistakes are named precisely and never take down what already works. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConfigErrorTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @TempDir
    Path dir;

    @Test
    void aBrokenEditIsRejectedWithItsLineAndTheLastGoodConfigStays() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        String good = TestMesh.proxySection("iptables") + "pods:\n" + TestMesh.pod("a", a);
        try (TestMesh mesh = TestMesh.start(dir, good, null);
             SeededServer server = SeededServer.start(b, 8080, 1000, 1000, false)) {
            PodCapture before = mesh.proxy.pod("demo/a").orElseThrow();
            String broken = good + "  - name: b\n    ips: [10.77.0.3\n    netns: " + b.path() + "\n";

            Files.writeString(mesh.file, broken); // in place this time, not by rename; noticed by the poll
            TestMesh.await("the poll to reject the edit", () -> mesh.proxy.lastConfigError() != null);
            assertThat(mesh.proxy.reload()).as("no change since the poll").isFalse();
            String error = mesh.proxy.lastConfigError();
            int line = (int) good.lines().count() + 3;
            assertThat(error).startsWith(mesh.file + ":" + line + ":").contains("not valid YAML");
            assertThat(mesh.admin("/stats")).contains("not valid YAML");
            assertThat(mesh.proxy.pod("demo/a")).containsSame(before);
            assertThat(mesh.proxy.pod("demo/b")).isEmpty();
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
            TestMesh.await("still captured", () -> mesh.closed.size() == 2);

            mesh.rewrite(good + TestMesh.pod("b", b));
            assertThat(mesh.proxy.lastConfigError()).isNull();
            assertThat(mesh.proxy.pod("demo/b")).isPresent();
            assertThat(mesh.proxy.pod("demo/a")).containsSame(before);
        }
    }

    @Test
    void aPodWhoseNamespaceIsMissingFailsAloneWithAClearError() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("pa", "10.77.0.2/24");
        Netns b = lan.attach("pb", "10.77.0.3/24");
        Path missing = Path.of("/var/run/netns", NetnsExtension.PREFIX + "never-made");
        String yaml = TestMesh.proxySection("iptables") + "pods:\n"
                + "  - name: ghost\n    namespace: demo\n    netns: " + missing + "\n"
                + TestMesh.pod("a", a);
        try (TestMesh mesh = TestMesh.start(dir, yaml, null);
             SeededServer server = SeededServer.start(b, 8080, 1000, 1000, false)) {
            PodCapture ghost = mesh.proxy.pod("demo/ghost").orElseThrow();
            assertThat(ghost.state()).isEqualTo(PodCapture.State.FAILED);
            assertThat(ghost.lastError()).contains("demo/ghost").contains(missing.toString()).contains("does not exist");
            assertThat(mesh.admin("/stats")).contains("\"state\" : \"failed\"").contains("does not exist");
            assertThat(mesh.proxy.pod("demo/a").orElseThrow().listening()).isTrue();
            assertThat(SeededClients.run(a, b.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
            TestMesh.await("a captured", () -> mesh.closed.size() == 2);
        }
    }

    @Test
    void anUnusableFileAtStartIsAConfigException() throws Exception {
        Path file = dir.resolve("mesh.yaml");
        Files.writeString(file, "proxy:\n  workers: lots\n");
        NodeProxy proxy = NodeProxy.builder().configFile(file).build();
        assertThatThrownBy(proxy::start).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(file + ":2:12: proxy.workers: 'lots' is not a whole number");
        proxy.close();
    }
}
