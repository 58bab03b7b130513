package io.nodemesh.cni;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The control socket's two datagrams (docs/cni.md): the plugin's request and the proxy's reply. */
final class ControlMessage {

    /** The protocol version the plugin speaks. */
    static final long VERSION = 1;
    /** The largest datagram either side sends. */
    static final int MAX_BYTES = 64 * 1024;

    private ControlMessage() {
    }

    /** The proxy's answer: {@code ok} with the pod's state, or not, with the CNI error code to report. */
    record Reply(boolean ok, String state, String detail, int code, String error) {
    }

    /** The request for {@code invocation}; {@code ips} is {@code null} where the command carries none. */
    static byte[] request(Invocation invocation, List<String> ips) {
        Map<String, Object> pod = new LinkedHashMap<>();
        pod.put("namespace", invocation.pod().namespace());
        pod.put("name", invocation.pod().name());
        pod.put("uid", invocation.pod().uid());
        Map<String, Object> request = new LinkedHashMap<>();
        request.put("version", VERSION);
        request.put("command", invocation.command());
        request.put("containerId", invocation.containerId());
        request.put("pod", pod);
        request.put("interface", invocation.ifname());
        if (ips != null) {
            request.put("ips", ips);
        }
        request.put("netnsPath", invocation.netns());
        return Json.write(request);
    }

    /** Reads a reply; anything that is not one is error 100, with what came. */
    static Reply reply(byte[] bytes) throws CniError {
        Map<String, Object> reply;
        try {
            reply = Json.parseObject(bytes);
        } catch (Json.JsonException e) {
            throw badReply("it is not a JSON object: " + e.getMessage());
        }
        if (!(reply.get("ok") instanceof Boolean ok)) {
            throw badReply("it has no boolean \"ok\": " + abbreviated(bytes));
        }
        if (ok) {
            return new Reply(true, text(reply, "state", ""), text(reply, "detail", ""), 0, "");
        }
        int code = reply.get("code") instanceof Long c && c > 0 && c < 1000 ? c.intValue() : CniError.TRY_AGAIN_LATER;
        return new Reply(false, "", "", code, text(reply, "error", "the proxy refused without saying why"));
    }

    private static String text(Map<String, Object> reply, String key, String absent) {
        return reply.get(key) instanceof String s ? s : absent;
    }

    private static String abbreviated(byte[] bytes) {
        String text = new String(bytes, 0, Math.min(bytes.length, 200), java.nio.charset.StandardCharsets.UTF_8);
        return bytes.length > 200 ? text + "…" : text;
    }

    private static CniError badReply(String why) {
        return new CniError(CniError.BAD_REPLY, "the nodemesh proxy's reply is not understood", "its reply " + why);
    }
}
