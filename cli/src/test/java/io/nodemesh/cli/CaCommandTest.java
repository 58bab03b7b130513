package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.identity.MeshCa;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CaCommandTest {

    @TempDir
    Path tmp;

    @Test
    void initWritesACaTheProxyCanLoadAndPrintsWhereAndItsFingerprint() throws Exception {
        Path dir = tmp.resolve("ca");
        CommandRun run = new CommandRun();
        assertThat(run.nodemesh("ca", "init", "--dir", dir.toString(), "--trust-domain", "mesh.example",
                "--lifetime", "30d")).isZero();

        MeshCa ca = MeshCa.load(dir, "mesh.example");
        assertThat(ca.certificate().getNotAfter().toInstant())
                .isBetween(Instant.now().plus(Duration.ofDays(30)).minusSeconds(60), Instant.now().plus(Duration.ofDays(30)));
        assertThat(Files.getPosixFilePermissions(dir.resolve(MeshCa.KEY_FILE)))
                .isEqualTo(PosixFilePermissions.fromString("rw-------"));
        assertThat(run.out()).startsWith("wrote a mesh CA for trust domain mesh.example to " + dir + "\n")
                .contains(MeshCa.CERT_FILE, MeshCa.KEY_FILE, "SHA-256 fingerprint: " + ca.fingerprint());
        assertThat(run.err()).isEmpty();
    }

    @Test
    void initRefusesToReplaceACaUnlessForced() throws Exception {
        CommandRun run = new CommandRun();
        assertThat(run.nodemesh("ca", "init", "--dir", tmp.toString())).isZero();
        String first = Files.readString(tmp.resolve(MeshCa.CERT_FILE));

        assertThat(run.nodemesh("ca", "init", "--dir", tmp.toString())).isEqualTo(2);
        assertThat(run.err()).isEqualTo("nodemesh ca init: " + tmp.resolve(MeshCa.CERT_FILE)
                + " already exists (replace it with --force)\n");
        assertThat(Files.readString(tmp.resolve(MeshCa.CERT_FILE))).isEqualTo(first);

        assertThat(run.nodemesh("ca", "init", "--dir", tmp.toString(), "--force")).isZero();
        assertThat(Files.readString(tmp.resolve(MeshCa.CERT_FILE))).isNotEqualTo(first);
        assertThat(MeshCa.load(tmp, "cluster.local").certificate().getSubjectX500Principal().getName())
                .contains("nodemesh mesh CA cluster.local");
    }

    @Test
    void badArgumentsAreNamed() {
        CommandRun run = new CommandRun();
        assertThat(run.nodemesh("ca", "init", "--dir", tmp.toString(), "--trust-domain", "Mesh")).isEqualTo(2);
        assertThat(run.err()).startsWith("'Mesh' is not a trust domain");
        CommandRun lifetime = new CommandRun();
        assertThat(lifetime.nodemesh("ca", "init", "--dir", tmp.toString(), "--lifetime", "10 years")).isEqualTo(2);
        assertThat(lifetime.err()).contains("'10 years' is not a duration");
        assertThat(tmp).isEmptyDirectory();
    }
}
