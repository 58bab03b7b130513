package io.nodemesh.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.identity.CertificateStatus;
import io.nodemesh.proxy.identity.IdentityManager;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.topology.Netns;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The proxy's identities follow its captured pods: a certificate per service account captured here, from the mesh CA
 * the file names, none for a pod it does not capture, dropped with the pod; a CA it cannot read stops the start.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class IdentityTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void aCertificateForEachCapturedAccountFromTheMeshCa() throws Exception {
        Path caDir = mesh.dir().resolve("ca");
        MeshCa ca = MeshCa.create("cluster.local", Duration.ofDays(1));
        ca.write(caDir, false);
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        mesh.pod("outsider");
        TestNode node = mesh.start(mesh.config().identity(caDir, "2m").capture(a, b));
        IdentityManager identities = node.proxy.identities().orElseThrow();
        SpiffeId idA = new SpiffeId("cluster.local", "demo", "a");
        SpiffeId idB = new SpiffeId("cluster.local", "demo", "b");

        MeshTls tlsA = identities.ready(idA).get(10, TimeUnit.SECONDS);
        assertThat(tlsA.certificate().trustAnchors()).containsExactly(ca.certificate());
        assertThat(Duration.between(tlsA.certificate().notBefore(), tlsA.certificate().notAfter()))
                .isEqualTo(Duration.ofMinutes(2).plus(Duration.ofMinutes(1))); // 2 m, started a minute back for skew
        identities.ready(idB).get(10, TimeUnit.SECONDS);
        assertThatThrownBy(() -> identities.ready(new SpiffeId("cluster.local", "demo", "outsider")).get(10, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).hasMessageContaining("has no captured pod on this node");

        node.rewrite(mesh.config().identity(caDir, "2m").capture(a));
        MeshExtension.await("b's certificate dropped", () -> identities.current(idB) == null);
        assertThat(identities.status()).extracting(CertificateStatus::identity).containsExactly(idA);
    }

    @Test
    void aMeshCaThatCannotBeReadStopsTheStart() throws Exception {
        Path missing = mesh.dir().resolve("no-ca");
        assertThatThrownBy(() -> mesh.start(mesh.config().identity(missing, "24h").capture(mesh.pod("a"))))
                .isInstanceOf(ConfigException.class)
                .hasMessage("proxy.identity.caDir: " + missing.resolve(MeshCa.CERT_FILE)
                        + ": no such file (make a mesh CA with: nodemesh ca init --dir " + missing + ")");
    }
}
