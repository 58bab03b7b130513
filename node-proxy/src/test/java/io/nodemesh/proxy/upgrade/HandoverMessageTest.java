package io.nodemesh.proxy.upgrade;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.handoff.HandoffRequest;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The {@code control_socket} and {@code pod} datagrams of the handover protocol (docs/upgrade.md): encoded, parsed,
 * refused.
 */
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

    @Test
    void aPodComesBackWithThePluginsAddOrWithout() throws IOException {
        HandoffRequest add = new HandoffRequest("ADD", "sandbox-1", "demo", "h", "0c1d-2e3f",
                List.of(InetAddress.ofLiteral("10.77.0.9"), InetAddress.ofLiteral("fd77::9")), "/var/run/netns/cni-1");
        HandoverMessage withCni = new HandoverMessage.Pod("demo/h", List.of(15001, 15006), add);
        assertThat(HandoverMessage.parse(HandoverMessage.encode(withCni), new int[] {7, 8, 9})).isEqualTo(withCni);
        HandoverMessage without = new HandoverMessage.Pod("demo/a", List.of(15001, 15006), null);
        assertThat(new String(HandoverMessage.encode(without), UTF_8)).doesNotContain("cni");
        assertThat(HandoverMessage.parse(HandoverMessage.encode(without), new int[] {7, 8, 9})).isEqualTo(without);
    }

    @Test
    void aPodWhosePluginAddIsNotAValidAddOfThatPodIsRefused() {
        String ok = "{\"version\":1,\"command\":\"ADD\",\"containerId\":\"s1\",\"pod\":{\"namespace\":\"demo\","
                + "\"name\":\"h\"},\"ips\":[\"10.77.0.9\"],\"netnsPath\":\"/var/run/netns/x\"}";
        assertThatThrownBy(() -> pod("demo/other", ok)).hasMessageContaining("an ADD of pod demo/other expected");
        assertThatThrownBy(() -> pod("demo/h", ok.replace("\"ADD\"", "\"DEL\"")))
                .hasMessageContaining("an ADD of pod demo/h expected, got DEL");
        assertThatThrownBy(() -> pod("demo/h", ok.replace("10.77.0.9", "10.77.0.999")))
                .hasMessageContaining("cni.ips[0]");
        assertThatThrownBy(() -> pod("demo/h", ok.replace("\"containerId\"", "\"sandbox\"")))
                .hasMessageContaining("cni.");
        assertThatThrownBy(() -> pod("demo/h", "\"ADD\"")).hasMessageContaining("cni: not an object");
    }

    private static HandoverMessage pod(String key, String cni) throws IOException {
        return HandoverMessage.parse(("{\"version\":1,\"type\":\"pod\",\"pod\":\"" + key + "\",\"ports\":[15001],"
                + "\"cni\":" + cni + "}").getBytes(UTF_8), new int[] {7, 8});
    }

    private static void assertRefused(String path, String why) {
        assertThatThrownBy(() -> HandoverMessage.parse(("{\"version\":1,\"type\":\"control_socket\",\"path\":\""
                + path + "\"}").getBytes(UTF_8), new int[] {7})).isInstanceOf(IOException.class).hasMessageContaining(why);
    }

    private static HandoverMessage parse(String json) throws IOException {
        return HandoverMessage.parse(json.getBytes(UTF_8), new int[0]);
    }
}
