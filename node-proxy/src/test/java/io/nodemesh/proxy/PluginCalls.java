package io.nodemesh.proxy;

import static java.nio.charset.StandardCharsets.UTF_8;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.SeqpacketSocket;
import io.nodemesh.topology.Netns;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The CNI plugin's side of the proxy's control socket, for tests that play the plugin: a request datagram as the
 * plugin writes it (docs/cni.md), sent over a real {@code SOCK_SEQPACKET} socket with real descriptors, and the answer.
 */
public final class PluginCalls {

    private static final ObjectMapper JSON = new ObjectMapper();

    private PluginCalls() {
    }

    /** A request for pod {@code namespace/name}; {@code pod} (may be null) gives the addresses and namespace path. */
    public static String request(String command, String namespace, String name, String containerId, Netns pod) {
        String ips = pod == null ? "" : ",\"ips\":[\"" + pod.ipv4().getHostAddress() + "/24\"]";
        return "{\"version\":1,\"command\":\"" + command + "\",\"containerId\":\"" + containerId + "\","
                + "\"pod\":{\"namespace\":\"" + namespace + "\",\"name\":\"" + name + "\",\"uid\":\"uid-" + name
                + "\"},\"interface\":\"eth0\"" + ips + ",\"netnsPath\":\"" + (pod == null ? "" : pod.path()) + "\"}";
    }

    /** Sends one request as the plugin does and returns the answer. */
    public static JsonNode call(Path socket, String json, int... fds) throws Exception {
        return call(socket, json.getBytes(UTF_8), fds);
    }

    /** Sends one datagram (well-formed or not) with {@code fds} and returns the answer. */
    public static JsonNode call(Path socket, byte[] datagram, int... fds) throws Exception {
        try (SeqpacketSocket s = SeqpacketSocket.connect(socket)) {
            s.timeouts(Duration.ofSeconds(40));
            s.send(datagram, fds);
            return JSON.readTree(s.receive(64 * 1024, 0).data());
        }
    }

    /** Sends {@code json} with {@code pod}'s namespace opened as the plugin opens it; the descriptor is closed after. */
    public static JsonNode withNamespace(Path socket, String json, Netns pod) throws Exception {
        int fd = Descriptors.openReadOnly(pod.path());
        try {
            return call(socket, json, fd);
        } finally {
            Descriptors.close(fd);
        }
    }
}
