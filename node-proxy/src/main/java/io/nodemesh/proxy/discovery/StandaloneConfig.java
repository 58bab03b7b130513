package io.nodemesh.proxy.discovery;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.transport.TransportKind;
import java.io.IOException;
import java.io.StringReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;

/**
 * Reads the standalone config file: the proxy's settings and the pods it captures, without a
 * Kubernetes API. Every key is optional except where noted; unknown keys are errors.
 *
 * <pre>{@code
 * proxy:
 *   mark: 0x539               # packet mark on the proxy's own upstream sockets (the rules exempt it)
 *   outboundPort: 15001
 *   inboundPort: 15006
 *   transport: epoll          # epoll | io_uring | nio
 *   workers: 2                # event-loop threads (default: number of cores)
 *   connectTimeout: 5s        # durations: <number><ms|s|m|h|d>
 *   idleTimeout: 1h
 *   drainTimeout: 30s
 *   rules: iptables           # iptables | nft | none (none: somebody else installs the redirect rules)
 *   admin: 127.0.0.1:15000    # admin HTTP (stats); port 0 = ephemeral; [::1]:15000 for IPv6
 * pods:
 *   - name: client            # required
 *     namespace: demo         # default "default"
 *     serviceAccount: client  # default "default"
 *     ips: [10.77.0.2, fd77::2]
 *     netns: /var/run/netns/demo-client   # required
 *     capture: true           # false: known to the mesh but not captured
 *     exemptPorts: [22]       # outbound destination ports not captured
 *     exemptInboundPorts: []  # inbound destination ports not captured
 *     exemptCidrs: [10.96.0.0/12]
 * }</pre>
 *
 * <p>Errors read {@code FILE:LINE:COLUMN: FIELD: problem}, e.g.
 * {@code /etc/nodemesh.yaml:12:11: pods[1].ips[0]: '10.0.0.300' is not an IP address}.
 */
public final class StandaloneConfig {

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final Set<String> PROXY_KEYS = Set.of("mark", "outboundPort", "inboundPort", "transport",
            "workers", "connectTimeout", "idleTimeout", "drainTimeout", "rules", "admin");
    private static final Set<String> POD_KEYS = Set.of("name", "namespace", "serviceAccount", "ips", "netns",
            "capture", "exemptPorts", "exemptInboundPorts", "exemptCidrs");

    private final String file;

    private StandaloneConfig(String file) {
        this.file = file;
    }

    /**
     * A parsed standalone file: the settings fixed at start and the snapshot (settings and pods) the proxy follows.
     */
    public record Document(BootSettings boot, MeshSnapshot snapshot) {

        /** The snapshot's pods, by key. */
        public Map<String, PodSpec> pods() {
            return snapshot.pods();
        }

        /** The snapshot's settings. */
        public ProxySettings proxy() {
            return snapshot.proxy();
        }
    }

    /** Reads and validates {@code path}. */
    public static Document load(Path path) throws ConfigException {
        return parse(path.toString(), read(path));
    }

    /**
     * The text of {@code path}, which must be UTF-8.
     *
     * @throws ConfigException naming the file: missing, unreadable, or not UTF-8 (with the offset of the first bad byte)
     */
    public static String read(Path path) throws ConfigException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new ConfigException(path + ": no such file");
        } catch (IOException e) {
            throw new ConfigException(path + ": cannot read: " + e.getMessage(), e);
        }
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult result = decoder.decode(in, out, true);
        if (!result.isError()) {
            result = decoder.flush(out);
        }
        if (result.isError()) {
            int offset = in.position();
            int line = 1;
            for (int i = 0; i < offset; i++) {
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw new ConfigException(String.format("%s: not UTF-8 text: byte 0x%02x at offset %d (line %d) is not "
                    + "valid UTF-8; the config file must be UTF-8 YAML", path, bytes[offset] & 0xff, offset, line));
        }
        return out.flip().toString();
    }

    /** Parses {@code text}; {@code file} names it in error messages. */
    public static Document parse(String file, String text) throws ConfigException {
        return new StandaloneConfig(file).parse(text);
    }

    private Document parse(String text) throws ConfigException {
        Node root;
        try {
            LoaderOptions options = new LoaderOptions();
            options.setAllowDuplicateKeys(false);
            options.setMaxAliasesForCollections(10);
            root = new Yaml(options).compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
            if (e.getContext() != null) {
                problem = e.getContext() + ": " + problem;
            }
            throw new ConfigException(where(mark) + "not valid YAML: " + problem.trim());
        } catch (YAMLException e) {
            throw new ConfigException(file + ": not valid YAML: " + e.getMessage());
        }
        if (root == null) {
            return new Document(BootSettings.defaults(), new MeshSnapshot(ProxySettings.defaults(), List.of()));
        }
        Map<String, Node> top = mapping(root, "", Set.of("proxy", "pods"));
        Node proxyNode = top.get("proxy");
        // One mapping, read once: the start-time settings and the snapshot's come from the same section.
        Map<String, Node> proxySection = proxyNode == null || isNull(proxyNode) ? Map.of()
                : mapping(proxyNode, "proxy", PROXY_KEYS);
        ProxySettings proxy = proxy(proxySection);
        BootSettings boot = boot(proxySection);
        List<PodSpec> pods = new ArrayList<>();
        if (top.containsKey("pods")) {
            Node podsNode = top.get("pods");
            if (!isNull(podsNode)) {
                List<Node> items = sequence(podsNode, "pods");
                Set<String> seen = new HashSet<>();
                Map<InetAddress, String> ipOwners = new LinkedHashMap<>();
                for (int i = 0; i < items.size(); i++) {
                    String field = "pods[" + i + "]";
                    PodSpec pod = pod(items.get(i), field);
                    if (!seen.add(pod.key())) {
                        throw new ConfigException(where(items.get(i)) + field + ": pod " + pod.key()
                                + " is listed twice");
                    }
                    for (InetAddress ip : pod.ips()) {
                        String owner = ipOwners.putIfAbsent(ip, pod.key());
                        if (owner != null) {
                            throw new ConfigException(where(items.get(i)) + field + ".ips: " + ip.getHostAddress()
                                    + " is also the address of pod " + owner);
                        }
                    }
                    pods.add(pod);
                }
            }
        }
        return new Document(boot, new MeshSnapshot(proxy, pods));
    }

    private BootSettings boot(Map<String, Node> m) throws ConfigException {
        BootSettings d = BootSettings.defaults();
        return new BootSettings(
                m.containsKey("transport") ? transport(m.get("transport")) : d.transport(),
                m.containsKey("workers") ? workers(m.get("workers")) : d.workers(),
                m.containsKey("admin") ? admin(m.get("admin")) : d.admin());
    }

    private ProxySettings proxy(Map<String, Node> m) throws ConfigException {
        ProxySettings d = ProxySettings.defaults();
        return new ProxySettings(
                m.containsKey("mark") ? mark(m.get("mark"), "proxy.mark") : d.mark(),
                m.containsKey("outboundPort") ? port(m.get("outboundPort"), "proxy.outboundPort", false) : d.outboundPort(),
                m.containsKey("inboundPort") ? port(m.get("inboundPort"), "proxy.inboundPort", false) : d.inboundPort(),
                m.containsKey("connectTimeout") ? duration(m.get("connectTimeout"), "proxy.connectTimeout") : d.connectTimeout(),
                m.containsKey("idleTimeout") ? duration(m.get("idleTimeout"), "proxy.idleTimeout") : d.idleTimeout(),
                m.containsKey("drainTimeout") ? duration(m.get("drainTimeout"), "proxy.drainTimeout") : d.drainTimeout(),
                m.containsKey("rules") ? rules(m.get("rules")) : d.rules());
    }

    private PodSpec pod(Node node, String field) throws ConfigException {
        Map<String, Node> m = mapping(node, field, POD_KEYS);
        if (!m.containsKey("name")) {
            throw new ConfigException(where(node) + field + ": missing required field 'name'");
        }
        if (!m.containsKey("netns")) {
            throw new ConfigException(where(node) + field + ": missing required field 'netns' (path of the pod's network namespace)");
        }
        String name = name(m.get("name"), field + ".name");
        String namespace = m.containsKey("namespace") ? name(m.get("namespace"), field + ".namespace") : "default";
        String sa = m.containsKey("serviceAccount") ? name(m.get("serviceAccount"), field + ".serviceAccount") : "default";
        List<InetAddress> ips = new ArrayList<>();
        if (m.containsKey("ips")) {
            List<Node> items = list(m.get("ips"), field + ".ips");
            for (int i = 0; i < items.size(); i++) {
                ips.add(ip(items.get(i), field + ".ips[" + i + "]"));
            }
        }
        String netns = scalar(m.get("netns"), field + ".netns");
        if (netns.isBlank() || !netns.startsWith("/")) {
            throw new ConfigException(where(m.get("netns")) + field + ".netns: '" + netns + "' is not an absolute path");
        }
        boolean capture = !m.containsKey("capture") || bool(m.get("capture"), field + ".capture");
        List<Integer> exemptPorts = ports(m.get("exemptPorts"), field + ".exemptPorts");
        List<Integer> exemptInbound = ports(m.get("exemptInboundPorts"), field + ".exemptInboundPorts");
        List<String> cidrs = new ArrayList<>();
        if (m.containsKey("exemptCidrs")) {
            List<Node> items = list(m.get("exemptCidrs"), field + ".exemptCidrs");
            for (int i = 0; i < items.size(); i++) {
                cidrs.add(cidr(items.get(i), field + ".exemptCidrs[" + i + "]"));
            }
        }
        return new PodSpec(name, namespace, sa, ips, Path.of(netns), capture, exemptPorts, exemptInbound, cidrs);
    }

    // ---- typed scalars ----

    private int mark(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        try {
            long v = text.startsWith("0x") || text.startsWith("0X")
                    ? Long.parseLong(text.substring(2), 16) : Long.parseLong(text);
            if (v <= 0 || v > 0xffffffffL) {
                throw new NumberFormatException();
            }
            return (int) v;
        } catch (NumberFormatException e) {
            throw new ConfigException(where(node) + field + ": '" + text
                    + "' is not a packet mark (a non-zero 32-bit number, e.g. 0x539)");
        }
    }

    private int port(Node node, String field, boolean allowZero) throws ConfigException {
        int v = integer(node, field);
        if (v < (allowZero ? 0 : 1) || v > 65535) {
            throw new ConfigException(where(node) + field + ": " + v + " is not a TCP port (1-65535)");
        }
        return v;
    }

    private int workers(Node node) throws ConfigException {
        int v = integer(node, "proxy.workers");
        if (v < 1 || v > 1024) {
            throw new ConfigException(where(node) + "proxy.workers: " + v + " is not a thread count (1-1024)");
        }
        return v;
    }

    private int integer(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        try {
            return Integer.parseInt(text);
        } catch (NumberFormatException e) {
            throw new ConfigException(where(node) + field + ": '" + text + "' is not a whole number");
        }
    }

    private boolean bool(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        return switch (text) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(where(node) + field + ": '" + text + "' is not true or false");
        };
    }

    private Duration duration(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        Matcher m = DURATION.matcher(text);
        if (!m.matches()) {
            throw new ConfigException(where(node) + field + ": '" + text
                    + "' is not a duration (a number and a unit: ms, s, m, h or d, e.g. 5s)");
        }
        long n = Long.parseLong(m.group(1));
        Duration d = switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
        if (d.isZero()) {
            throw new ConfigException(where(node) + field + ": must be longer than zero");
        }
        return d;
    }

    private TransportKind transport(Node node) throws ConfigException {
        String text = scalar(node, "proxy.transport");
        TransportKind k = TransportKind.parse(text);
        if (k == null) {
            throw new ConfigException(where(node) + "proxy.transport: '" + text + "' is not one of epoll, io_uring, nio");
        }
        return k;
    }

    private RulesBackend rules(Node node) throws ConfigException {
        String text = scalar(node, "proxy.rules");
        RulesBackend b = RulesBackend.parse(text);
        if (b == null) {
            throw new ConfigException(where(node) + "proxy.rules: '" + text + "' is not one of iptables, nft, none");
        }
        return b;
    }

    private InetSocketAddress admin(Node node) throws ConfigException {
        String text = scalar(node, "proxy.admin");
        try {
            return HostPort.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where(node) + "proxy.admin: " + e.getMessage());
        }
    }

    private InetAddress ip(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        try {
            return HostPort.literal(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where(node) + field + ": '" + text + "' is not an IP address");
        }
    }

    private String cidr(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        int slash = text.indexOf('/');
        try {
            InetAddress addr = HostPort.literal(slash < 0 ? text : text.substring(0, slash));
            int max = addr.getAddress().length * 8;
            int prefix = slash < 0 ? max : Integer.parseInt(text.substring(slash + 1));
            if (prefix < 0 || prefix > max) {
                throw new IllegalArgumentException();
            }
            return addr.getHostAddress() + "/" + prefix;
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where(node) + field + ": '" + text
                    + "' is not a network (ADDRESS/PREFIX, e.g. 10.96.0.0/12)");
        }
    }

    private List<Integer> ports(Node node, String field) throws ConfigException {
        List<Integer> out = new ArrayList<>();
        if (node == null) {
            return out;
        }
        List<Node> items = list(node, field);
        for (int i = 0; i < items.size(); i++) {
            out.add(port(items.get(i), field + "[" + i + "]", false));
        }
        return out;
    }

    private String name(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        if (!text.matches("[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")) {
            throw new ConfigException(where(node) + field + ": '" + text
                    + "' is not a Kubernetes name (lower-case letters, digits, '-' and '.')");
        }
        return text;
    }

    // ---- structure ----

    private Map<String, Node> mapping(Node node, String field, Set<String> allowed) throws ConfigException {
        if (!(node instanceof MappingNode mn)) {
            throw new ConfigException(where(node) + (field.isEmpty() ? "" : field + ": ")
                    + "expected a mapping (key: value), found " + describe(node));
        }
        Map<String, Node> out = new LinkedHashMap<>();
        for (NodeTuple t : mn.getValue()) {
            Node keyNode = t.getKeyNode();
            String key = keyNode instanceof ScalarNode s ? s.getValue() : null;
            String prefix = field.isEmpty() ? "" : field + ".";
            if (key == null || !allowed.contains(key)) {
                throw new ConfigException(where(keyNode) + prefix + (key == null ? "?" : key) + ": unknown key"
                        + " (expected one of " + String.join(", ", allowed.stream().sorted().toList()) + ")");
            }
            if (out.put(key, t.getValueNode()) != null) {
                throw new ConfigException(where(keyNode) + prefix + key + ": duplicate key");
            }
        }
        return out;
    }

    private List<Node> sequence(Node node, String field) throws ConfigException {
        if (!(node instanceof SequenceNode sn)) {
            throw new ConfigException(where(node) + field + ": expected a list, found " + describe(node));
        }
        return sn.getValue();
    }

    /** A list, or null/empty as an empty list. */
    private List<Node> list(Node node, String field) throws ConfigException {
        return isNull(node) ? List.of() : sequence(node, field);
    }

    private String scalar(Node node, String field) throws ConfigException {
        if (!(node instanceof ScalarNode s) || isNull(node)) {
            throw new ConfigException(where(node) + field + ": expected a single value, found " + describe(node));
        }
        return s.getValue().trim();
    }

    private static boolean isNull(Node node) {
        return node instanceof ScalarNode s && s.getTag().getValue().endsWith(":null");
    }

    private static String describe(Node node) {
        if (node instanceof MappingNode) {
            return "a mapping";
        }
        if (node instanceof SequenceNode) {
            return "a list";
        }
        if (isNull(node)) {
            return "nothing";
        }
        return node instanceof ScalarNode s ? "'" + s.getValue() + "'" : String.valueOf(node);
    }

    private String where(Node node) {
        return where(node.getStartMark());
    }

    private String where(Mark mark) {
        if (mark == null) {
            return file + ": ";
        }
        return file + ":" + (mark.getLine() + 1) + ":" + (mark.getColumn() + 1) + ": ";
    }
}
