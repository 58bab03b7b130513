package io.nodemesh.proxy.tunnel;

import static io.nodemesh.proxy.tunnel.TunnelTest.connect;
import static io.nodemesh.proxy.tunnel.TunnelTest.exchange;
import static io.nodemesh.proxy.tunnel.TunnelTest.random;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.identity.WorkloadCertificates;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.SpiffeId;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The tunnel over real mutual TLS 1.3 from the mesh CA: who proves what, and the bytes through it. */
@Timeout(60)
class TunnelTlsTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    private static MeshCa mesh;
    private static MeshTls client;
    private static MeshTls server;

    @BeforeAll
    static void issue() throws Exception {
        mesh = MeshCa.create(SpiffeId.DEFAULT_TRUST_DOMAIN, Duration.ofDays(1));
        client = MeshTls.of(mesh.issue(TunnelRig.SOURCE, Duration.ofHours(1)));
        server = MeshTls.of(mesh.issue(TunnelRig.DESTINATION, Duration.ofHours(1)));
    }

    @Test
    void bytesCrossAMutualTlsTunnelAndTheServerLearnsTheClientsIdentity() throws Exception {
        TlsSecurity tls = new TlsSecurity(TunnelRig.DESTINATION,
                held(Map.of(TunnelRig.SOURCE, client, TunnelRig.DESTINATION, server)));
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(TunnelSettings.defaults(), TunnelSettings.defaults(), tls,
                     TunnelAuthorizer.ALLOW_ALL)) {
            InetSocketAddress front = rig.front(app.address());
            for (int i = 0; i < 3; i++) {
                byte[] sent = random(1 << 20, i);
                try (Socket s = connect(front)) {
                    assertThat(Arrays.equals(exchange(s, sent), sent)).isTrue();
                }
            }
            assertThat(rig.peers).containsOnly(TunnelRig.SOURCE).hasSize(3);
            assertThat(rig.tunnelConnections).as("three streams, one TLS connection").hasValue(1);
        }
    }

    @Test
    void aConnectionMadeBeforeTheSourcesCertificateIsIssuedWaitsForIt() throws Exception {
        CompletableFuture<MeshTls> issuedLater = new CompletableFuture<>();
        Map<SpiffeId, MeshTls> held = Map.of(TunnelRig.DESTINATION, server);
        TlsSecurity tls = new TlsSecurity(TunnelRig.DESTINATION, new WorkloadCertificates() {
            @Override
            public MeshTls current(SpiffeId id) {
                return id.equals(TunnelRig.SOURCE) ? issuedLater.getNow(null) : held.get(id);
            }

            @Override
            public CompletableFuture<MeshTls> ready(SpiffeId id) {
                return id.equals(TunnelRig.SOURCE) ? issuedLater : CompletableFuture.completedFuture(held.get(id));
            }
        });
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(TunnelSettings.defaults(), TunnelSettings.defaults(), tls,
                     TunnelAuthorizer.ALLOW_ALL)) {
            InetSocketAddress front = rig.front(app.address());
            Thread.ofVirtual().start(() -> {
                try {
                    Thread.sleep(300);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                issuedLater.complete(client);
            });
            byte[] sent = random(1 << 16, 7);
            try (Socket s = connect(front)) {
                assertThat(Arrays.equals(exchange(s, sent), sent)).isTrue();
            }
            assertThat(rig.peers).containsOnly(TunnelRig.SOURCE);
        }
    }

    @Test
    void aServerThatIsNotTheExpectedDestinationIsRefusedAndTheClientReset() throws Exception {
        SpiffeId impostor = new SpiffeId(SpiffeId.DEFAULT_TRUST_DOMAIN, "b", "impostor");
        MeshTls impostorTls = MeshTls.of(mesh.issue(impostor, Duration.ofHours(1)));
        // The server presents the impostor's certificate; the client expects TunnelRig.DESTINATION.
        TlsSecurity tls = new TlsSecurity(impostor, held(Map.of(TunnelRig.SOURCE, client, impostor, impostorTls)));
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(TunnelSettings.defaults(), TunnelSettings.defaults(), tls,
                     TunnelAuthorizer.ALLOW_ALL)) {
            // The reset may come while the client is still connecting, or on its first read.
            assertThatThrownBy(() -> {
                try (Socket s = connect(rig.front(app.address()))) {
                    s.getInputStream().read();
                }
            }).isInstanceOf(SocketException.class);
            assertThat(rig.front.next()).isEqualTo(Outcome.ERROR);
            assertThat(rig.peers).as("no stream reached the server's authorizer").isEmpty();
            assertThat(rig.pool.connectionCount()).isZero();
        }
    }

    @Test
    void aClientWithoutACertificateMakesNoConnection() throws Exception {
        TlsSecurity tls = new TlsSecurity(TunnelRig.DESTINATION, held(Map.of(TunnelRig.DESTINATION, server)));
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(TunnelSettings.defaults(), TunnelSettings.defaults(), tls,
                     TunnelAuthorizer.ALLOW_ALL)) {
            // The reset may come while the client is still connecting, or on its first read.
            assertThatThrownBy(() -> {
                try (Socket s = connect(rig.front(app.address()))) {
                    s.getInputStream().read();
                }
            }).isInstanceOf(SocketException.class);
            assertThat(rig.front.next()).isEqualTo(Outcome.ERROR);
            assertThat(rig.pool.connectionCount()).isZero();
        }
    }

    /** Certificates already held, per identity; any other identity has none. */
    static WorkloadCertificates held(Map<SpiffeId, MeshTls> certificates) {
        return WorkloadCertificates.held(certificates);
    }
}
