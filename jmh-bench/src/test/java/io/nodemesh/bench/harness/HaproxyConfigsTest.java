package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class HaproxyConfigsTest {

    private static final List<HaproxyConfigs.Forward> FORWARDS = List.of(
            new HaproxyConfigs.Forward("127.0.0.1", 15201, "10.77.0.3", 15301),
            new HaproxyConfigs.Forward("127.0.0.1", 15202, "10.77.0.3", 15302));

    @Test
    void tcpForwardsEveryListenerToItsTargetWithoutTls() {
        String cfg = HaproxyConfigs.tcp(FORWARDS);

        assertThat(cfg).contains("nbthread 1", "mode tcp",
                "frontend f0\n    bind 127.0.0.1:15201\n    default_backend b0\n",
                "backend b1\n    server s1 10.77.0.3:15302\n").doesNotContain(" ssl ");
    }

    @Test
    void clientSideSendsItsCertificateAndVerifiesTheServersName() {
        String cfg = HaproxyConfigs.mtlsClient(FORWARDS, Path.of("/t/client.pem"), Path.of("/t/ca.crt"));

        assertThat(cfg).contains("bind 127.0.0.1:15201\n",
                "server s0 10.77.0.3:15301 ssl crt /t/client.pem ca-file /t/ca.crt verify required verifyhost server.nodemesh.test");
        assertThat(cfg.lines().filter(l -> l.contains("bind")).toList()).noneMatch(l -> l.contains("ssl"));
    }

    @Test
    void serverSideRequiresAClientCertificateFromTheRunsCa() {
        List<HaproxyConfigs.Forward> f = List.of(new HaproxyConfigs.Forward("10.77.0.3", 15301, "10.77.0.3", 8080));
        String cfg = HaproxyConfigs.mtlsServer(f, Path.of("/t/server.pem"), Path.of("/t/ca.crt"));

        assertThat(cfg).contains("bind 10.77.0.3:15301 ssl crt /t/server.pem ca-file /t/ca.crt verify required\n",
                "server s0 10.77.0.3:8080\n");
    }

    @Test
    void certificateCommandsMakeACaAndOneLeafPerSideWithItsUsage(@TempDir Path dir) {
        List<List<String>> cmds = HaproxyConfigs.certificateCommands(dir);

        assertThat(cmds).hasSize(5).allMatch(c -> c.getFirst().equals("openssl"));
        assertThat(cmds.get(1)).contains("subjectAltName=DNS:server.nodemesh.test", "extendedKeyUsage=serverAuth");
        assertThat(cmds.get(3)).contains("subjectAltName=DNS:client.nodemesh.test", "extendedKeyUsage=clientAuth");
        assertThat(cmds.get(4)).contains("-CA", dir.resolve("ca.crt").toString(), "-out", dir.resolve("client.crt").toString());
    }

    /** Runs the real openssl and haproxy -c: the certificates chain to the CA and HAProxy accepts both configs. */
    @Test
    void opensslMakesCertificatesThatHaproxyAccepts(@TempDir Path dir) throws Exception {
        assumeTrue(Commands.run("openssl", "version").ok(), "openssl is not installed");
        assumeTrue(Commands.run("haproxy", "-v").ok(), "haproxy is not installed");
        for (List<String> cmd : HaproxyConfigs.certificateCommands(dir)) {
            ExecResult r = Commands.run(cmd);
            assertThat(r.exitCode()).as(String.join(" ", cmd) + ": " + r.stderr()).isZero();
        }
        assertThat(Commands.run("openssl", "verify", "-purpose", "sslserver", "-CAfile", dir.resolve("ca.crt").toString(),
                dir.resolve("server.crt").toString()).stdout()).contains(": OK");
        assertThat(Commands.run("openssl", "verify", "-purpose", "sslclient", "-CAfile", dir.resolve("ca.crt").toString(),
                dir.resolve("client.crt").toString()).stdout()).contains(": OK");
        for (String who : List.of("server", "client")) {
            Files.writeString(dir.resolve(who + ".pem"),
                    Files.readString(dir.resolve(who + ".crt")) + Files.readString(dir.resolve(who + ".key")));
        }
        Path server = dir.resolve("server.cfg");
        Files.writeString(server, HaproxyConfigs.mtlsServer(FORWARDS, dir.resolve("server.pem"), dir.resolve("ca.crt")));
        Path client = dir.resolve("client.cfg");
        Files.writeString(client, HaproxyConfigs.mtlsClient(FORWARDS, dir.resolve("client.pem"), dir.resolve("ca.crt")));
        for (Path cfg : List.of(server, client)) {
            ExecResult check = Commands.run("haproxy", "-c", "-f", cfg.toString());
            assertThat(check.exitCode()).as(check.stdout() + check.stderr()).isZero();
        }
    }
}
