package io.nodemesh.proxy.upgrade;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The {@code control_socket} datagram of the handover protocol (docs/upgrade.md): encoded, parsed, refused. */
class HandoverMessageTest {

    @Test
    void aControlSocketComesBackAsItWasSentWithItsOneDescriptor() throws IOException {
        HandoverMessage sent = new HandoverMessage.ControlSocket(Path.of("/var/run/nodemesh/cni.sock"));
        byte[] datagram = HandoverMessage.encode(sent);
        assertThat(new String(datagram, UTF_8))
                .isEqualTo("{\"version\":1,\"type\":\"control_socket\",\"path\":\"/var/run/nodemesh/cni.sock\"}");
        assertThat(HandoverMessage.parse(datagram, new int[] {7})).isEqualTo(sent);
    }

    @Test
    void aControlSocketWithoutItsDescriptorOrWithAPathThatIsNoSocketPathIsRefused() {
        assertThatThrownBy(() -> parse("{\"version\":1,\"type\":\"control_socket\",\"path\":\"/run/cni.sock\"}"))
                .hasMessageContaining("carries 1 descriptor(s), not 0");
        assertRefused("cni.sock", "normalized absolute");
        assertRefused("/run/../etc/cni.sock", "normalized absolute");
        assertRefused("/" + "x".repeat(107), "a string of 1-107 characters");
        assertThatThrownBy(() -> HandoverMessage.parse(("{\"version\":1,\"type\":\"control_socket\",\"path\":"
                + "\"/run/cni.sock\",\"mode\":\"0666\"}").getBytes(UTF_8), new int[] {7}))
                .hasMessageContaining("unknown key 'mode'");
    }

    private static void assertRefused(String path, String why) {
        assertThatThrownBy(() -> HandoverMessage.parse(("{\"version\":1,\"type\":\"control_socket\",\"path\":\""
                + path + "\"}").getBytes(UTF_8), new int[] {7})).isInstanceOf(IOException.class).hasMessageContaining(why);
    }

    private static HandoverMessage parse(String json) throws IOException {
        return HandoverMessage.parse(json.getBytes(UTF_8), new int[0]);
    }
}
