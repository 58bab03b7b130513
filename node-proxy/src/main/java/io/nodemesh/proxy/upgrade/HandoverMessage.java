package io.nodemesh.proxy.upgrade;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.handoff.HandoffException;
import io.nodemesh.proxy.handoff.HandoffRequest;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.relay.MovedConnection;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The datagrams of the handover socket (docs/upgrade.md), each a UTF-8 JSON object of at most {@link #MAX_BYTES}:
 * encoded here, and parsed strictly (unknown keys, a wrong version, a field that does not validate are refusals that
 * name the field). Descriptors ride beside them as {@code SCM_RIGHTS}; how many each carries is part of its type.
 */
public sealed interface HandoverMessage {

    int VERSION = 1;
    int MAX_BYTES = 64 * 1024;
    /** Room for one descriptor more than any message may carry (a namespace and three listeners), to see a surplus. */
    int MAX_FDS = 5;

    /** How many descriptors this message must carry. */
    int descriptors();

    /** New → old: hand me your pods. */
    record Takeover() implements HandoverMessage {
        @Override
        public int descriptors() {
            return 0;
        }
    }

    /**
     * Old → new: one captured pod: its namespace, then one listening socket per port, in this order; and the CNI
     * plugin's ADD it was captured for when the plugin handed it over (null otherwise), in the plugin's own words.
     */
    record Pod(String pod, List<Integer> ports, HandoffRequest cni) implements HandoverMessage {
        @Override
        public int descriptors() {
            return 1 + ports.size();
        }
    }

    /**
     * Old → new: the CNI control socket, listening at {@code path}, as its one descriptor: the new proxy serves the
     * same socket, so its file never goes and a plugin call made during the switch waits in its backlog.
     */
    record ControlSocket(Path path) implements HandoverMessage {
        @Override
        public int descriptors() {
            return 1;
        }
    }

    /** Old → new: every pod was sent. */
    record ListenersDone(int pods) implements HandoverMessage {
        @Override
        public int descriptors() {
            return 0;
        }
    }

    /** New → old: the new proxy accepts on every pod it took; the old one may stop. */
    record Accepting() implements HandoverMessage {
        @Override
        public int descriptors() {
            return 0;
        }
    }

    /** Old → new: one plain relay, its downstream then its upstream socket. */
    record Relay(MovedConnection meta) implements HandoverMessage {
        @Override
        public int descriptors() {
            return 2;
        }
    }

    /** Old → new: the end: {@code moved} relays were sent, {@code kept} connections stay to drain on the old proxy. */
    record Done(int moved, int kept) implements HandoverMessage {
        @Override
        public int descriptors() {
            return 0;
        }
    }

    /** Either way: the sender gives up, saying why. */
    record Failed(String error) implements HandoverMessage {
        @Override
        public int descriptors() {
            return 0;
        }
    }

    /** The datagram for {@code message} (a relay's descriptors are not part of it). */
    static byte[] encode(HandoverMessage message) {
        ObjectNode out = Codec.JSON.createObjectNode();
        out.put("version", VERSION);
        switch (message) {
            case Takeover t -> out.put("type", "takeover");
            case Accepting a -> out.put("type", "accepting");
            case Pod p -> {
                out.put("type", "pod");
                out.put("pod", p.pod());
                p.ports().forEach(out.putArray("ports")::add);
                if (p.cni() != null) {
                    out.set("cni", p.cni().toJson());
                }
            }
            case ControlSocket c -> {
                out.put("type", "control_socket");
                out.put("path", c.path().toString());
            }
            case ListenersDone d -> {
                out.put("type", "listeners_done");
                out.put("pods", d.pods());
            }
            case Relay r -> {
                MovedConnection m = r.meta();
                out.put("type", "relay");
                out.put("pod", m.pod());
                out.put("direction", m.direction().name().toLowerCase(Locale.ROOT));
                out.put("source", HostPort.format(m.source()));
                out.put("destination", HostPort.format(m.destination()));
                out.put("openedAtMillis", m.openedAtMillis());
                out.put("bytesFromSource", m.bytesFromSource());
                out.put("bytesToSource", m.bytesToSource());
                if (m.path() != null && m.path().sourcePrincipal() != null) {
                    out.put("sourcePrincipal", m.path().sourcePrincipal().toString());
                }
                if (m.path() != null && m.path().destinationPrincipal() != null) {
                    out.put("destinationPrincipal", m.path().destinationPrincipal().toString());
                }
            }
            case Done d -> {
                out.put("type", "done");
                out.put("moved", d.moved());
                out.put("kept", d.kept());
            }
            case Failed f -> {
                out.put("type", "failed");
                out.put("error", f.error());
            }
        }
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Parses a datagram that came with {@code fds} (a relay's are its downstream and upstream).
     *
     * @throws IOException naming what is wrong: not JSON, a version or type we do not speak, an unknown key, a field
     *     that does not validate, or the wrong number of descriptors
     */
    static HandoverMessage parse(byte[] datagram, int[] fds) throws IOException {
        if (datagram.length > MAX_BYTES) {
            throw new IOException("a handover message of " + datagram.length + " bytes: the limit is " + MAX_BYTES);
        }
        JsonNode root;
        try {
            root = Codec.JSON.readTree(datagram);
        } catch (IOException e) {
            throw new IOException("a handover message is not JSON: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw new IOException("a handover message is not a JSON object");
        }
        if (!root.path("version").isInt() || root.get("version").intValue() != VERSION) {
            throw new IOException("handover protocol version " + root.path("version") + " is not " + VERSION);
        }
        String type = root.path("type").asText("");
        HandoverMessage message = switch (type) {
            case "takeover" -> Codec.only(root, Set.of(), new Takeover());
            case "accepting" -> Codec.only(root, Set.of(), new Accepting());
            case "pod" -> Codec.only(root, Set.of("pod", "ports", "cni"),
                    new Pod(Codec.podKey(root), Codec.ports(root), Codec.cni(root)));
            case "control_socket" -> Codec.only(root, Set.of("path"), new ControlSocket(Codec.socketPath(root)));
            case "listeners_done" -> Codec.only(root, Set.of("pods"), new ListenersDone(Codec.count(root, "pods")));
            case "relay" -> Codec.only(root, Codec.RELAY_KEYS, new Relay(Codec.relay(root, fds)));
            case "done" -> Codec.only(root, Set.of("moved", "kept"),
                    new Done(Codec.count(root, "moved"), Codec.count(root, "kept")));
            case "failed" -> Codec.only(root, Set.of("error"), new Failed(Codec.text(root, "error", 4096)));
            default -> throw new IOException("unknown handover message type '" + type + "'");
        };
        if (fds.length != message.descriptors()) {
            throw new IOException("a '" + type + "' handover message carries " + message.descriptors()
                    + " descriptor(s), not " + fds.length);
        }
        return message;
    }

    /** The field rules, kept out of the interface's surface. */
    final class Codec {
        static final ObjectMapper JSON = new ObjectMapper();
        static final Set<String> RELAY_KEYS = Set.of("pod", "direction", "source", "destination", "openedAtMillis",
                "bytesFromSource", "bytesToSource", "sourcePrincipal", "destinationPrincipal");
        private static final Pattern KEY = Pattern.compile(
                "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

        private Codec() {
        }

        static <T> T only(JsonNode root, Set<String> keys, T value) throws IOException {
            for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!k.equals("version") && !k.equals("type") && !keys.contains(k)) {
                    throw new IOException("unknown key '" + k + "' in a handover message");
                }
            }
            return value;
        }

        static String podKey(JsonNode root) throws IOException {
            String key = text(root, "pod", 317);
            if (!KEY.matcher(key).matches()) {
                throw new IOException("pod: '" + key + "' is not namespace/name");
            }
            return key;
        }

        /** A pod's CNI ADD, validated as the control socket validates it, and for the same pod; null if absent. */
        static HandoffRequest cni(JsonNode root) throws IOException {
            JsonNode cni = root.get("cni");
            if (cni == null) {
                return null;
            }
            if (!cni.isObject()) {
                throw new IOException("cni: not an object");
            }
            HandoffRequest request;
            try {
                request = HandoffRequest.parse(JSON.writeValueAsBytes(cni));
            } catch (HandoffException e) {
                throw new IOException("cni." + e.getMessage(), e);
            }
            if (!request.command().equals("ADD") || !request.key().equals(podKey(root))) {
                throw new IOException("cni: an ADD of pod " + podKey(root) + " expected, got " + request.command()
                        + " of " + request.key());
            }
            return request;
        }

        static List<Integer> ports(JsonNode root) throws IOException {
            JsonNode ports = root.path("ports");
            if (!ports.isArray() || ports.isEmpty() || ports.size() > MAX_FDS - 2) {
                throw new IOException("ports: one to " + (MAX_FDS - 2) + " listening ports");
            }
            List<Integer> out = new ArrayList<>();
            Set<Integer> seen = new HashSet<>();
            for (JsonNode p : ports) {
                if (!p.isInt() || p.intValue() < 1 || p.intValue() > 65535 || !seen.add(p.intValue())) {
                    throw new IOException("ports: " + p + " is not a port (1-65535) listed once");
                }
                out.add(p.intValue());
            }
            return List.copyOf(out);
        }

        /** An absolute socket path that fits a {@code sockaddr_un} (107 bytes). */
        static Path socketPath(JsonNode root) throws IOException {
            String text = text(root, "path", 107);
            try {
                Path path = Path.of(text);
                if (!path.isAbsolute() || text.getBytes(StandardCharsets.UTF_8).length > 107
                        || !path.normalize().toString().equals(text)) {
                    throw new IOException("path: '" + text + "' is not a normalized absolute socket path of at most "
                            + "107 bytes");
                }
                return path;
            } catch (InvalidPathException e) {
                throw new IOException("path: " + e.getMessage());
            }
        }

        static int count(JsonNode root, String field) throws IOException {
            JsonNode n = root.path(field);
            if (!n.isInt() || n.intValue() < 0 || n.intValue() > 1_000_000) {
                throw new IOException(field + ": " + n + " is not a count");
            }
            return n.intValue();
        }

        static long amount(JsonNode root, String field, long max) throws IOException {
            JsonNode n = root.path(field);
            if (!n.canConvertToLong() || !n.isIntegralNumber() || n.longValue() < 0 || n.longValue() > max) {
                throw new IOException(field + ": " + n + " is out of range");
            }
            return n.longValue();
        }

        static String text(JsonNode root, String field, int max) throws IOException {
            JsonNode n = root.path(field);
            if (!n.isTextual() || n.textValue().isEmpty() || n.textValue().length() > max) {
                throw new IOException(field + ": a string of 1-" + max + " characters is required");
            }
            return n.textValue();
        }

        static InetSocketAddress address(JsonNode root, String field) throws IOException {
            try {
                InetSocketAddress a = HostPort.parse(text(root, field, 64));
                if (a.getPort() == 0) {
                    throw new IllegalArgumentException("port 0");
                }
                return a;
            } catch (IllegalArgumentException e) {
                throw new IOException(field + ": " + e.getMessage());
            }
        }

        static SpiffeId principal(JsonNode root, String field) throws IOException {
            if (!root.has(field)) {
                return null;
            }
            try {
                return SpiffeId.parse(text(root, field, 2048));
            } catch (IllegalArgumentException e) {
                throw new IOException(field + ": " + e.getMessage());
            }
        }

        static MovedConnection relay(JsonNode root, int[] fds) throws IOException {
            String direction = text(root, "direction", 16);
            Direction d = switch (direction) {
                case "outbound" -> Direction.OUTBOUND;
                case "inbound" -> Direction.INBOUND;
                default -> throw new IOException("direction: '" + direction + "' is not outbound or inbound");
            };
            // An hour of clock step either way is tolerated; a start time beyond that is not one of ours.
            long opened = amount(root, "openedAtMillis", System.currentTimeMillis() + 3_600_000L);
            ConnectionPath path = ConnectionPath.plaintext(principal(root, "sourcePrincipal"),
                    principal(root, "destinationPrincipal"));
            return new MovedConnection(podKey(root), d, address(root, "source"), address(root, "destination"), path,
                    opened, amount(root, "bytesFromSource", Long.MAX_VALUE / 2),
                    amount(root, "bytesToSource", Long.MAX_VALUE / 2),
                    fds.length > 0 ? fds[0] : -1, fds.length > 1 ? fds[1] : -1);
        }
    }
}
