package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Operator mistakes are named precisely and never take down what already works. */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class ConfigErrorTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void aBrokenEditIsRejectedWithItsLineAndTheLastGoodConfigStays() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        String good = mesh.config().capture(a).yaml();
        TestNode node = mesh.start(mesh.config().capture(a));
        mesh.own(SeededServer.start(b, 8080, 1000, 1000, false));
        PodCapture before = node.proxy.pod("demo/a").orElseThrow();
        String broken = good + "  - name: b\n    ips: [10.77.0.3\n    netns: " + b.path() + "\n";

        Files.writeString(node.file, broken); // in place this time, not by rename; noticed by the poll
        await("the poll to reject the edit", () -> node.proxy.lastConfigError() != null);
        assertThat(node.proxy.reload()).as("no change since the poll").isFalse();
        String error = node.proxy.lastConfigError();
        int line = (int) good.lines().count() + 3;
        assertThat(error).startsWith(node.file + ":" + line + ":").contains("not valid YAML");
        assertThat(node.admin("/stats")).contains("not valid YAML");
        assertThat(node.proxy.pod("demo/a")).containsSame(before);
        assertThat(node.proxy.pod("demo/b")).isEmpty();
        assertThat(SeededClients.run(a, b.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
        await("still captured", () -> node.closed.size() == 2);

        node.rewrite(mesh.config().capture(a, b));
        assertThat(node.proxy.lastConfigError()).isNull();
        assertThat(node.proxy.pod("demo/b")).isPresent();
        assertThat(node.proxy.pod("demo/a")).containsSame(before);
    }

    @Test
    void aPodWhoseNamespaceIsMissingFailsAloneWithAClearError() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        Path missing = Path.of("/var/run/netns", NetnsExtension.PREFIX + "never-made");
        TestNode node = mesh.start(mesh.config()
                .entry("  - name: ghost\n    namespace: demo\n    netns: " + missing + "\n")
                .capture(a));
        mesh.own(SeededServer.start(b, 8080, 1000, 1000, false));
        PodCapture ghost = node.proxy.pod("demo/ghost").orElseThrow();
        assertThat(ghost.state()).isEqualTo(PodCapture.State.FAILED);
        assertThat(ghost.lastError()).contains("demo/ghost").contains(missing.toString()).contains("does not exist");
        assertThat(node.admin("/stats")).contains("\"state\" : \"failed\"").contains("does not exist");
        assertThat(node.proxy.pod("demo/a").orElseThrow().listening()).isTrue();
        assertThat(SeededClients.run(a, b.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
        await("a captured", () -> node.closed.size() == 2);
    }

    @Test
    void manyPodsAtStartAreCapturedTogetherAndOneThatFailsFailsAlone() throws Exception {
        Netns server = mesh.pod("server");
        List<Netns> pods = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            pods.add(mesh.pod("p" + i));
        }
        Path missing = Path.of("/var/run/netns", NetnsExtension.PREFIX + "never-made");
        TestNode node = mesh.start(mesh.config().rules("nft").capture(pods.toArray(Netns[]::new))
                .entry("  - name: ghost\n    namespace: demo\n    netns: " + missing + "\n"));
        mesh.own(SeededServer.start(server, 8080, 1000, 1000, false));
        for (int i = 0; i < pods.size(); i++) {
            assertThat(node.proxy.captures().states()).containsEntry("demo/p" + i, CaptureState.CAPTURED);
            assertThat(pods.get(i).execOk("nft", "list", "table", "inet", "nodemesh").stdout())
                    .contains("redirect to :15001");
        }
        assertThat(node.proxy.captures().states())
                .containsEntry("demo/ghost", CaptureState.failed(CaptureFailure.NETNS_NOT_FOUND));
        assertThat(node.proxy.captures().failures()).containsEntry(CaptureFailure.NETNS_NOT_FOUND, 1L)
                .containsEntry(CaptureFailure.NETNS_UNUSABLE, 0L).containsEntry(CaptureFailure.LISTEN_FAILED, 0L)
                .containsEntry(CaptureFailure.RULES_FAILED, 0L).containsEntry(CaptureFailure.INTERNAL, 0L);
        assertThat(SeededClients.run(pods.getFirst(), server.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
        assertThat(SeededClients.run(pods.getLast(), server.ipv4(), 8080, 2, 1000, 1000)).containsOnly("ok");
        await("both pods' connections went through the proxy", () -> node.closed.size() == 4);
    }

    @Test
    void anUnusableFileAtStartIsAConfigException() throws Exception {
        Path file = mesh.dir().resolve("mesh.yaml");
        Files.writeString(file, "proxy:\n  workers: lots\n");
        NodeProxy proxy = mesh.own(NodeProxy.builder().configFile(file).build());
        assertThatThrownBy(proxy::start).isInstanceOf(ConfigException.class)
                .hasMessageStartingWith(file + ":2:12: proxy.workers: 'lots' is not a whole number");
    }
}
