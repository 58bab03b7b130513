package io.nodemesh.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Topology;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A topology made outside JUnit with {@code closeOnExit()} is removed when its JVM is stopped, as the demo is by Ctrl-C. */
class TopologyExitTest {

    /** Only gates on root and namespaces; the topology here belongs to a child JVM. */
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    /** The child: makes a namespace, says its name, waits to be stopped. */
    public static void main(String[] args) throws Exception {
        Topology topology = new Topology(args[0]).closeOnExit();
        System.out.println(topology.namespace("child").name());
        System.out.flush();
        Thread.sleep(60_000);
    }

    @Test
    void sigtermRemovesTheChildsNamespaces() throws Exception {
        String prefix = NetnsExtension.PREFIX + "exit";
        Process child = new ProcessBuilder(List.of(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                TopologyExitTest.class.getName(), prefix)).redirectErrorStream(true).start();
        try {
            String name;
            try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                name = out.readLine();
                assertThat(name).startsWith(prefix);
                assertThat(Commands.run("ip", "netns", "list").stdout()).contains(name);
                child.destroy(); // SIGTERM: shutdown hooks run
                assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            }
            assertThat(Commands.run("ip", "netns", "list").stdout()).doesNotContain(name);
        } finally {
            child.destroyForcibly();
        }
    }
}
