package io.nodemesh.proxy.discovery;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PeerAuthenticationModeTest {

    @Test
    void permissiveByDefaultStrictByLabelAndAnUnknownValueFailsClosed() {
        assertThat(PeerAuthentication.of(Map.of())).isEqualTo(PeerAuthentication.PERMISSIVE);
        assertThat(PeerAuthentication.of(Map.of(PeerAuthentication.LABEL, "permissive")))
                .isEqualTo(PeerAuthentication.PERMISSIVE);
        assertThat(PeerAuthentication.of(Map.of(PeerAuthentication.LABEL, "STRICT"))).isEqualTo(PeerAuthentication.STRICT);
        assertThat(PeerAuthentication.of(Map.of(PeerAuthentication.LABEL, "strcit"))).isEqualTo(PeerAuthentication.STRICT);
    }

    @Test
    void aNamespaceTheSnapshotDoesNotListIsPermissive() {
        MeshSnapshot mesh = new MeshSnapshot(MeshSnapshot.empty().proxy(),
                List.of(new NamespaceSpec("locked", Map.of(PeerAuthentication.LABEL, "strict"))),
                List.of(), List.of());
        assertThat(mesh.peerAuthentication("locked")).isEqualTo(PeerAuthentication.STRICT);
        assertThat(mesh.peerAuthentication("elsewhere")).isEqualTo(PeerAuthentication.PERMISSIVE);
    }
}
