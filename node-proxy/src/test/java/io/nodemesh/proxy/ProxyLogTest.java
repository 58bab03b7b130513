package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proxy's own log lines, as an operator reads them in the journal (slf4j-simple writes to stderr). */
class ProxyLogTest {

    @TempDir
    Path dir;

    @Test
    void logsItsAdminAddressAsOneTypesIt() throws Exception {
        Path file = dir.resolve("mesh.yaml");
        Files.writeString(file, "pods: []\n");
        PrintStream original = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        int port;
        try (NodeProxy proxy = NodeProxy.builder().configFile(file).admin(new InetSocketAddress("127.0.0.1", 0))
                .adminSocket(file.resolveSibling("admin.sock")).readiness(new InetSocketAddress("127.0.0.1", 0)).build()) {
            proxy.start();
            port = proxy.adminAddress().getPort();
        } finally {
            System.setErr(original);
        }
        String log = err.toString(StandardCharsets.UTF_8);
        assertThat(log).contains("admin on 127.0.0.1:" + port + ",").doesNotContain("/127.0.0.1");
        assertThat(log).contains("proxy stopped");
    }
}
