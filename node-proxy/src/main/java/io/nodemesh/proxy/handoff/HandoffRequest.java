package io.nodemesh.proxy.handoff;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One request of the CNI plugin on the control socket (docs/cni.md), parsed and validated: every field is checked
 * before the proxy acts on it, and anything unexpected is a {@link HandoffException} naming the field.
 *
 * @param command {@code ADD}, {@code DEL} or {@code CHECK}
 * @param containerId the runtime's container (sandbox) id
 * @param namespace the pod's Kubernetes namespace
 * @param name the pod's name
 * @param uid the pod's uid ({@code ""} when the runtime did not pass one)
 * @param ips the pod's addresses from the previous plugins' result (ADD only; empty otherwise)
 * @param netnsPath the runtime's path of the pod's namespace, for messages only: the descriptor is what counts
 */
public record HandoffRequest(String command, String containerId, String namespace, String name, String uid,
        List<InetAddress> ips, String netnsPath) {

    /** The protocol version this proxy speaks. */
    public static final int VERSION = 1;
    /** The largest request datagram accepted. */
    public static final int MAX_BYTES = 64 * 1024;

    private static final Set<String> COMMANDS = Set.of("ADD", "DEL", "CHECK");
    private static final Set<String> KEYS = Set.of("version", "command", "containerId", "pod", "interface", "ips",
            "netnsPath");
    private static final Set<String> POD_KEYS = Set.of("namespace", "name", "uid");
    // DNS-1123 label (namespaces) and subdomain (pod names), as the API server enforces them.
    private static final Pattern LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");
    private static final Pattern SUBDOMAIN = Pattern.compile(
            "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
    private static final Pattern UID = Pattern.compile("[A-Za-z0-9-]{1,128}");
    private static final Pattern CONTAINER_ID = Pattern.compile("[A-Za-z0-9_.-]{1,256}");
    private static final Pattern INTERFACE = Pattern.compile("[A-Za-z0-9_.:-]{1,15}");
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION).build();

    static {
        JSON.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(8).build());
    }

    public HandoffRequest {
        ips = List.copyOf(ips);
    }

    /**
     * This request as the plugin sends it, as a JSON tree (written out, {@link #parse} reads it back to an equal
     * request): how a proxy that hands its pods over passes on the ADD it captured a pod for (docs/upgrade.md).
     */
    public ObjectNode toJson() {
        ObjectNode out = JSON.createObjectNode();
        out.put("version", VERSION);
        out.put("command", command);
        out.put("containerId", containerId);
        ObjectNode pod = out.putObject("pod");
        pod.put("namespace", namespace);
        pod.put("name", name);
        if (uid != null && !uid.isEmpty()) {
            pod.put("uid", uid);
        }
        ArrayNode list = out.putArray("ips");
        ips.forEach(ip -> list.add(ip.getHostAddress()));
        out.put("netnsPath", netnsPath);
        return out;
    }

    /** {@code namespace/name}, the pod's key in the snapshot. */
    public String key() {
        return namespace + "/" + name;
    }

    /**
     * Parses and validates one request datagram.
     *
     * @throws HandoffException naming the first field that is missing or wrong
     */
    public static HandoffRequest parse(byte[] datagram) throws HandoffException {
        if (datagram.length > MAX_BYTES) {
            throw new HandoffException("request of " + datagram.length + " bytes: the limit is " + MAX_BYTES);
        }
        JsonNode root;
        try {
            root = JSON.readTree(datagram);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new HandoffException("request is not JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new HandoffException("request is not JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new HandoffException("request is not a JSON object");
        }
        unknown(root, KEYS, "");
        JsonNode version = root.get("version");
        if (version == null || !version.isInt() || version.intValue() != VERSION) {
            throw new HandoffException("version: expected " + VERSION + ", got " + version);
        }
        String command = text(root, "command", "");
        if (!COMMANDS.contains(command)) {
            throw new HandoffException("command: '" + command + "' is not ADD, DEL or CHECK");
        }
        String containerId = matching(root, "containerId", "", CONTAINER_ID, true);
        JsonNode pod = root.get("pod");
        if (pod == null || !pod.isObject()) {
            throw new HandoffException("pod: missing, or not an object");
        }
        unknown(pod, POD_KEYS, "pod.");
        String namespace = matching(pod, "namespace", "pod.", LABEL, true);
        String name = matching(pod, "name", "pod.", SUBDOMAIN, true);
        if (name.length() > 253) {
            throw new HandoffException("pod.name: longer than 253 characters");
        }
        String uid = matching(pod, "uid", "pod.", UID, false);
        if (root.has("interface")) {
            matching(root, "interface", "", INTERFACE, true);
        }
        List<InetAddress> ips = new ArrayList<>();
        JsonNode list = root.get("ips");
        if (list != null && !list.isNull()) {
            if (!list.isArray() || list.size() > 16) {
                throw new HandoffException("ips: expected an array of at most 16 addresses");
            }
            for (int i = 0; i < list.size(); i++) {
                ips.add(address(list.get(i), "ips[" + i + "]"));
            }
        }
        if (command.equals("ADD") && ips.isEmpty()) {
            throw new HandoffException("ips: an ADD needs the pod's addresses (from prevResult)");
        }
        String netnsPath = root.has("netnsPath") ? text(root, "netnsPath", "") : "";
        if (netnsPath.length() > 4096 || netnsPath.chars().anyMatch(c -> c < 0x20)) {
            throw new HandoffException("netnsPath: not a plausible path");
        }
        return new HandoffRequest(command, containerId, namespace, name, uid, ips, netnsPath);
    }

    private static void unknown(JsonNode object, Set<String> known, String prefix) throws HandoffException {
        for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!known.contains(key)) {
                throw new HandoffException(prefix + key + ": unknown field");
            }
        }
    }

    private static String text(JsonNode object, String key, String prefix) throws HandoffException {
        JsonNode v = object.get(key);
        if (v == null || !v.isTextual()) {
            throw new HandoffException(prefix + key + ": missing, or not a string");
        }
        return v.textValue();
    }

    private static String matching(JsonNode object, String key, String prefix, Pattern pattern, boolean required)
            throws HandoffException {
        if (!required && (object.get(key) == null || object.get(key).isNull()
                || object.get(key).isTextual() && object.get(key).textValue().isEmpty())) {
            return "";
        }
        String value = text(object, key, prefix);
        if (!pattern.matcher(value).matches()) {
            throw new HandoffException(prefix + key + ": '" + abbreviate(value) + "' is not valid");
        }
        return value;
    }

    /** An address with its prefix length ({@code 10.1.2.3/24}), as CNI results carry them; the address alone is kept. */
    private static InetAddress address(JsonNode node, String field) throws HandoffException {
        if (node == null || !node.isTextual()) {
            throw new HandoffException(field + ": not a string");
        }
        String text = node.textValue();
        int slash = text.indexOf('/');
        String ip = slash < 0 ? text : text.substring(0, slash);
        if (slash >= 0) {
            String prefix = text.substring(slash + 1);
            if (!prefix.matches("[0-9]{1,3}") || Integer.parseInt(prefix) > (ip.contains(":") ? 128 : 32)) {
                throw new HandoffException(field + ": '" + abbreviate(text) + "' has no valid prefix length");
            }
        }
        // Only literals: InetAddress.ofLiteral never resolves a name.
        try {
            return InetAddress.ofLiteral(ip);
        } catch (IllegalArgumentException e) {
            throw new HandoffException(field + ": '" + abbreviate(text) + "' is not an IP address");
        }
    }

    private static String abbreviate(String s) {
        return s.length() <= 64 ? s : s.substring(0, 64) + "…";
    }
}
