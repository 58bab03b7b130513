package io.nodemesh.proxy.discovery;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.DurationText;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.IdentitySettings;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.proxy.policy.AuthorizationPolicy;
import io.nodemesh.proxy.policy.PolicyException;
import io.nodemesh.proxy.policy.PolicyReader;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.CaptureMode;
import io.nodemesh.rules.RulesException;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 *   rules: nft                # nft (default) | iptables | none (none: somebody else installs the redirect rules)
 *   capture: redirect         # redirect (default: nat REDIRECT, connection tracking) | tproxy (transparent listeners,
 *                             # no connection tracking; needs transport epoll and rules nft or none)
 *   keepalive:                # TCP keepalive where a connection crosses the network (default on: 3m, 3m, 9)
 *     time: 3m                # silence before the first probe (whole seconds, at most 32767s)
 *     interval: 3m            # between probes
 *     probes: 9               # unanswered probes before the connection is dropped and its other side reset
 *                             # keepalive: off turns it off
 *   admin: 127.0.0.1:15000    # admin HTTP (stats); port 0 = ephemeral; [::1]:15000 for IPv6
 *   adminSocket: /var/run/nodemesh/admin.sock   # the admin API on a Unix socket too (owner-only)
 *   readiness: 127.0.0.1:15021   # GET /healthz/ready: 200 once the pods are reconciled, 503 while starting or draining
 *   identity:                 # workload certificates (fixed at start)
 *     caDir: /etc/nodemesh/ca # the mesh CA: ca-cert.pem, ca-key.pem (nodemesh ca init); none: no mutual TLS
 *     trustDomain: cluster.local
 *     certificateLifetime: 24h
 * namespaces:                 # optional: namespaces whose pods follow the enrolment label
 *   - name: demo
 *     labels: {nodemesh.io/capture: enabled}   # nodemesh.io/peer-authentication: strict refuses plaintext
 * pods:
 *   - name: client            # required
 *     namespace: demo         # default "default"
 *     serviceAccount: client  # default "default"
 *     ips: [10.77.0.2, fd77::2]
 *     netns: /var/run/netns/demo-client   # this node's pod: required (a pod of another node has node: instead);
 *                                         # 'cni': handed over by the CNI plugin with its addresses (no ips: then)
 *     node: node-2            # the node it runs on (display; a pod without netns is another node's)
 *     labels: {app: client}   # services select by them
 *     annotations: {nodemesh.io/capture: disabled}   # opts the pod out
 *     hostNetwork: false      # true: never captured
 *     ports: {http: 8080}     # named container ports, for services' named target ports
 *     ready: true             # false: not an endpoint that takes new connections
 *     capture: true           # only in a namespace not listed above: false = known to the mesh but not captured
 *     exemptPorts: [22]       # outbound destination ports not captured
 *     exemptInboundPorts: []  # inbound destination ports not captured
 *     exemptCidrs: [10.96.0.0/12]
 *     cgroup: /sys/fs/cgroup/kubepods.slice/...   # the pod's cgroup (v2) directory: needed by capture: ebpf
 * services:
 *   - name: web               # required
 *     namespace: demo         # default "default"
 *     addresses: [10.96.0.10] # its cluster IPs
 *     ports:
 *       - {name: http, port: 80, targetPort: http}   # targetPort: a number or a pod's named port (default: port)
 *     selector: {app: web}    # its endpoints: the pods of its namespace with these labels
 * policies:                   # NodemeshAuthorizationPolicy, Istio's AuthorizationPolicy at L4
 *   - name: deny-legacy       # required
 *     namespace: demo         # default "default": the policy applies to workloads there
 *     selector: {matchLabels: {app: web}}   # default: every workload of the namespace
 *     action: DENY            # ALLOW (default) | DENY
 *     rules:
 *       - from: [{source: {namespaces: [legacy]}}]   # principals, namespaces, ipBlocks and their not* forms
 *         to: [{operation: {ports: ["8080"]}}]       # ports, notPorts
 *         when: [{key: source.ip, values: [10.0.0.0/8]}]   # source.ip|namespace|principal, destination.port
 * }</pre>
 *
 * <p>Enrolment: a pod of a namespace listed under {@code namespaces} is a mesh workload when that namespace has the
 * label {@code nodemesh.io/capture=enabled} and the pod neither opts out (annotation) nor uses the host's network
 * ({@link Enrolment}), as in a cluster; a pod of a namespace not listed there follows its own {@code capture} key
 * (default true). This node captures the mesh workloads that have a {@code netns}.
 *
 * <p>Errors read {@code FILE:LINE:COLUMN: FIELD: problem}, e.g.
 * {@code /etc/nodemesh.yaml:12:11: pods[1].ips[0]: '10.0.0.300' is not an IP address}.
 */
public final class StandaloneConfig {

    private static final Set<String> PROXY_KEYS = Set.of("mark", "outboundPort", "inboundPort", "transport",
            "workers", "connectTimeout", "idleTimeout", "drainTimeout", "rules", "capture", "keepalive", "admin",
            "adminSocket", "readiness", "identity");
    private static final Set<String> KEEPALIVE_KEYS = Set.of("time", "interval", "probes");
    private static final Set<String> IDENTITY_KEYS = Set.of("caDir", "trustDomain", "certificateLifetime");
    /** The {@code netns} of a pod whose namespace the CNI plugin hands over. */
    public static final String HANDED_BY_CNI = "cni";
    private static final Set<String> POD_KEYS = Set.of("name", "namespace", "serviceAccount", "ips", "netns",
            "node", "labels", "annotations", "hostNetwork", "ports", "ready", "capture", "exemptPorts",
            "exemptInboundPorts", "exemptCidrs", "cgroup");
    private static final Set<String> NAMESPACE_KEYS = Set.of("name", "labels");
    private static final Set<String> SERVICE_KEYS = Set.of("name", "namespace", "addresses", "ports", "selector");
    private static final Set<String> SERVICE_PORT_KEYS = Set.of("name", "port", "targetPort");

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
        Map<String, Node> top = mapping(root, "", Set.of("proxy", "namespaces", "pods", "services", "policies"));
        Node proxyNode = top.get("proxy");
        // One mapping, read once: the start-time settings and the snapshot's come from the same section.
        Map<String, Node> proxySection = proxyNode == null || isNull(proxyNode) ? Map.of()
                : mapping(proxyNode, "proxy", PROXY_KEYS);
        ProxySettings proxy = proxy(proxySection);
        BootSettings boot = boot(proxySection);
        Map<String, NamespaceSpec> namespaces = new LinkedHashMap<>();
        List<Node> nsItems = list(top.get("namespaces"), "namespaces");
        for (int i = 0; i < nsItems.size(); i++) {
            NamespaceSpec ns = namespace(nsItems.get(i), "namespaces[" + i + "]");
            if (namespaces.putIfAbsent(ns.name(), ns) != null) {
                throw new ConfigException(where(nsItems.get(i)) + "namespaces[" + i + "]: namespace " + ns.name()
                        + " is listed twice");
            }
        }
        List<ParsedPod> pods = new ArrayList<>();
        List<Node> items = list(top.get("pods"), "pods");
        Set<String> seen = new HashSet<>();
        Map<InetAddress, String> ipOwners = new LinkedHashMap<>();
        for (int i = 0; i < items.size(); i++) {
            String field = "pods[" + i + "]";
            ParsedPod pod = pod(items.get(i), field, namespaces);
            if (!seen.add(pod.spec.key())) {
                throw new ConfigException(where(items.get(i)) + field + ": pod " + pod.spec.key()
                        + " is listed twice");
            }
            for (InetAddress ip : pod.spec.ips()) {
                String owner = ipOwners.putIfAbsent(ip, pod.spec.key());
                if (owner != null) {
                    throw new ConfigException(where(items.get(i)) + field + ".ips: " + ip.getHostAddress()
                            + " is also the address of pod " + owner);
                }
            }
            pods.add(pod);
        }
        List<ServiceSpec> services = new ArrayList<>();
        Set<String> serviceKeys = new HashSet<>();
        Map<String, String> vipOwners = new HashMap<>();
        List<Node> svcItems = list(top.get("services"), "services");
        for (int i = 0; i < svcItems.size(); i++) {
            String field = "services[" + i + "]";
            ServiceSpec svc = service(svcItems.get(i), field, pods);
            if (!serviceKeys.add(svc.key())) {
                throw new ConfigException(where(svcItems.get(i)) + field + ": service " + svc.key()
                        + " is listed twice");
            }
            for (InetAddress vip : svc.vips()) {
                if (ipOwners.containsKey(vip)) {
                    throw new ConfigException(where(svcItems.get(i)) + field + ".addresses: " + vip.getHostAddress()
                            + " is the address of pod " + ipOwners.get(vip));
                }
                for (ServiceSpec.Port port : svc.ports()) {
                    String at = vip.getHostAddress() + ":" + port.port();
                    String owner = vipOwners.putIfAbsent(at, svc.key());
                    if (owner != null) {
                        throw new ConfigException(where(svcItems.get(i)) + field + ": " + at
                                + " is also a port of service " + owner);
                    }
                }
            }
            services.add(svc);
        }
        List<AuthorizationPolicy> policies = new ArrayList<>();
        Set<String> policyKeys = new HashSet<>();
        List<Node> policyItems = list(top.get("policies"), "policies");
        for (int i = 0; i < policyItems.size(); i++) {
            AuthorizationPolicy policy = policy(policyItems.get(i), "policies[" + i + "]");
            if (!policyKeys.add(policy.key())) {
                throw new ConfigException(where(policyItems.get(i)) + "policies[" + i + "]: policy " + policy.key()
                        + " is listed twice");
            }
            policies.add(policy);
        }
        return new Document(boot, new MeshSnapshot(proxy, List.copyOf(namespaces.values()),
                pods.stream().map(ParsedPod::spec).toList(), services, policies));
    }

    /** A pod and what only the file's services read: its named ports and readiness. */
    private record ParsedPod(PodSpec spec, Map<String, Integer> ports, boolean ready) {
    }

    private BootSettings boot(Map<String, Node> m) throws ConfigException {
        BootSettings d = BootSettings.defaults();
        return new BootSettings(
                m.containsKey("transport") ? transport(m.get("transport")) : d.transport(),
                m.containsKey("workers") ? workers(m.get("workers")) : d.workers(),
                m.containsKey("admin") ? address(m.get("admin"), "proxy.admin") : d.admin(),
                m.containsKey("adminSocket") ? socketPath(m.get("adminSocket")) : d.adminSocket(),
                m.containsKey("readiness") ? address(m.get("readiness"), "proxy.readiness") : d.readiness(),
                identity(m.get("identity")));
    }

    private IdentitySettings identity(Node node) throws ConfigException {
        IdentitySettings d = IdentitySettings.defaults();
        if (node == null || isNull(node)) {
            return d;
        }
        Map<String, Node> m = mapping(node, "proxy.identity", IDENTITY_KEYS);
        String trustDomain = d.trustDomain();
        if (m.containsKey("trustDomain")) {
            trustDomain = scalar(m.get("trustDomain"), "proxy.identity.trustDomain");
            try {
                SpiffeId.checkTrustDomain(trustDomain);
            } catch (IllegalArgumentException e) {
                throw new ConfigException(where(m.get("trustDomain")) + "proxy.identity.trustDomain: " + e.getMessage());
            }
        }
        return new IdentitySettings(
                m.containsKey("caDir") ? Path.of(scalar(m.get("caDir"), "proxy.identity.caDir")) : d.caDir(),
                trustDomain,
                m.containsKey("certificateLifetime")
                        ? duration(m.get("certificateLifetime"), "proxy.identity.certificateLifetime")
                        : d.certificateLifetime());
    }

    private ProxySettings proxy(Map<String, Node> m) throws ConfigException {
        ProxySettings d = ProxySettings.defaults();
        ProxySettings settings = new ProxySettings(
                m.containsKey("mark") ? mark(m.get("mark"), "proxy.mark") : d.mark(),
                m.containsKey("outboundPort") ? port(m.get("outboundPort"), "proxy.outboundPort", false) : d.outboundPort(),
                m.containsKey("inboundPort") ? port(m.get("inboundPort"), "proxy.inboundPort", false) : d.inboundPort(),
                m.containsKey("connectTimeout") ? duration(m.get("connectTimeout"), "proxy.connectTimeout") : d.connectTimeout(),
                m.containsKey("idleTimeout") ? duration(m.get("idleTimeout"), "proxy.idleTimeout") : d.idleTimeout(),
                m.containsKey("drainTimeout") ? duration(m.get("drainTimeout"), "proxy.drainTimeout") : d.drainTimeout(),
                m.containsKey("rules") ? rules(m.get("rules")) : d.rules(),
                m.containsKey("capture") ? capture(m.get("capture")) : d.capture(),
                m.containsKey("keepalive") ? keepalive(m.get("keepalive")) : d.keepalive());
        String problem = settings.captureRulesProblem();
        if (problem != null) {
            throw new ConfigException(where(m.get("capture")) + "proxy.capture: " + problem);
        }
        return settings;
    }

    private TcpKeepalive keepalive(Node node) throws ConfigException {
        String field = "proxy.keepalive";
        if (node instanceof ScalarNode s && !isNull(node)) {
            if (s.getValue().trim().equals("off")) {
                return TcpKeepalive.off();
            }
            throw new ConfigException(where(node) + field + ": '" + s.getValue().trim()
                    + "' is neither off nor a mapping of time, interval and probes");
        }
        Map<String, Node> m = mapping(node, field, KEEPALIVE_KEYS);
        TcpKeepalive d = TcpKeepalive.defaults();
        Duration time = m.containsKey("time") ? keepaliveSeconds(m.get("time"), field + ".time") : d.time();
        Duration interval = m.containsKey("interval")
                ? keepaliveSeconds(m.get("interval"), field + ".interval") : d.interval();
        int probes = d.probes();
        if (m.containsKey("probes")) {
            probes = integer(m.get("probes"), field + ".probes");
            String problem = TcpKeepalive.probesProblem(probes);
            if (problem != null) {
                throw new ConfigException(where(m.get("probes")) + field + ".probes: " + problem);
            }
        }
        return new TcpKeepalive(true, time, interval, probes);
    }

    private Duration keepaliveSeconds(Node node, String field) throws ConfigException {
        Duration d = duration(node, field);
        String problem = TcpKeepalive.secondsProblem(d);
        if (problem != null) {
            throw new ConfigException(where(node) + field + ": " + problem);
        }
        return d;
    }

    private NamespaceSpec namespace(Node node, String field) throws ConfigException {
        Map<String, Node> m = mapping(node, field, NAMESPACE_KEYS);
        if (!m.containsKey("name")) {
            throw new ConfigException(where(node) + field + ": missing required field 'name'");
        }
        Map<String, String> labels = stringMap(m.get("labels"), field + ".labels");
        String mode = labels.get(PeerAuthentication.LABEL);
        if (mode != null && PeerAuthentication.parse(mode) == null) {
            throw new ConfigException(where(m.get("labels")) + field + ".labels." + PeerAuthentication.LABEL
                    + ": '" + mode + "' is neither permissive nor strict");
        }
        return new NamespaceSpec(name(m.get("name"), field + ".name"), labels);
    }

    private ParsedPod pod(Node node, String field, Map<String, NamespaceSpec> namespaces) throws ConfigException {
        Map<String, Node> m = mapping(node, field, POD_KEYS);
        if (!m.containsKey("name")) {
            throw new ConfigException(where(node) + field + ": missing required field 'name'");
        }
        if (!m.containsKey("netns") && !m.containsKey("node")) {
            throw new ConfigException(where(node) + field + ": missing required field 'netns' (path of the pod's "
                    + "network namespace; a pod of another node has 'node' instead)");
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
        Path netns = null;
        boolean handed = false;
        if (m.containsKey("netns") && scalar(m.get("netns"), field + ".netns").equals(HANDED_BY_CNI)) {
            // This node's pod, its namespace (and addresses) handed over by the CNI plugin when its sandbox starts.
            handed = true;
            if (!ips.isEmpty()) {
                throw new ConfigException(where(m.get("ips")) + field + ".ips: a pod whose netns is '"
                        + HANDED_BY_CNI + "' gets its addresses from the CNI plugin: leave 'ips' out");
            }
        } else if (m.containsKey("netns")) {
            String text = scalar(m.get("netns"), field + ".netns");
            if (text.isBlank() || !text.startsWith("/")) {
                throw new ConfigException(where(m.get("netns")) + field + ".netns: '" + text
                        + "' is not an absolute path");
            }
            netns = Path.of(text);
        }
        String nodeName = m.containsKey("node") ? name(m.get("node"), field + ".node") : "";
        Map<String, String> labels = stringMap(m.get("labels"), field + ".labels");
        Map<String, String> annotations = stringMap(m.get("annotations"), field + ".annotations");
        boolean hostNetwork = m.containsKey("hostNetwork") && bool(m.get("hostNetwork"), field + ".hostNetwork");
        boolean ready = !m.containsKey("ready") || bool(m.get("ready"), field + ".ready");
        Map<String, Integer> ports = new LinkedHashMap<>();
        if (m.containsKey("ports") && !isNull(m.get("ports"))) {
            for (Map.Entry<String, Node> e : mapping(m.get("ports"), field + ".ports", null).entrySet()) {
                ports.put(e.getKey(), port(e.getValue(), field + ".ports." + e.getKey(), false));
            }
        }
        NamespaceSpec ns = namespaces.get(namespace);
        boolean meshed;
        if (ns != null) {
            if (m.containsKey("capture")) {
                throw new ConfigException(where(m.get("capture")) + field + ".capture: namespace " + namespace
                        + " is listed under namespaces, so its label enrols its pods; a pod opts out with the "
                        + "annotation " + Enrolment.KEY + ": " + Enrolment.DISABLED);
            }
            meshed = Enrolment.meshed(ns.labels(), annotations, hostNetwork);
        } else {
            boolean capture = !m.containsKey("capture") || bool(m.get("capture"), field + ".capture");
            meshed = capture && !hostNetwork && !Enrolment.DISABLED.equals(annotations.get(Enrolment.KEY));
            if (capture && netns == null && m.containsKey("capture")) {
                throw new ConfigException(where(m.get("capture")) + field + ".capture: a pod this node captures needs "
                        + "'netns' (path of the pod's network namespace)");
            }
        }
        List<Integer> exemptPorts = ports(m.get("exemptPorts"), field + ".exemptPorts");
        List<Integer> exemptInbound = ports(m.get("exemptInboundPorts"), field + ".exemptInboundPorts");
        List<String> cidrs = new ArrayList<>();
        if (m.containsKey("exemptCidrs")) {
            List<Node> items = list(m.get("exemptCidrs"), field + ".exemptCidrs");
            for (int i = 0; i < items.size(); i++) {
                cidrs.add(cidr(items.get(i), field + ".exemptCidrs[" + i + "]"));
            }
        }
        Path cgroup = null;
        if (m.containsKey("cgroup")) {
            String text = scalar(m.get("cgroup"), field + ".cgroup");
            if (!text.startsWith("/")) {
                throw new ConfigException(where(m.get("cgroup")) + field + ".cgroup: '" + text
                        + "' is not an absolute path");
            }
            cgroup = Path.of(text);
        }
        PodSpec spec = new PodSpec(name, namespace, sa, ips, nodeName, labels, netns, meshed,
                meshed && (netns != null || handed),
                exemptPorts, exemptInbound, cidrs, cgroup);
        return new ParsedPod(spec, ports, ready);
    }

    private ServiceSpec service(Node node, String field, List<ParsedPod> pods) throws ConfigException {
        Map<String, Node> m = mapping(node, field, SERVICE_KEYS);
        if (!m.containsKey("name")) {
            throw new ConfigException(where(node) + field + ": missing required field 'name'");
        }
        String name = name(m.get("name"), field + ".name");
        String namespace = m.containsKey("namespace") ? name(m.get("namespace"), field + ".namespace") : "default";
        List<InetAddress> vips = new ArrayList<>();
        List<Node> addrs = list(m.get("addresses"), field + ".addresses");
        for (int i = 0; i < addrs.size(); i++) {
            vips.add(ip(addrs.get(i), field + ".addresses[" + i + "]"));
        }
        List<Node> portItems = list(m.get("ports"), field + ".ports");
        if (portItems.isEmpty()) {
            throw new ConfigException(where(node) + field + ": missing required field 'ports'");
        }
        List<ServiceSpec.Port> ports = new ArrayList<>();
        Set<String> names = new HashSet<>();
        Set<Integer> numbers = new HashSet<>();
        for (int i = 0; i < portItems.size(); i++) {
            String pf = field + ".ports[" + i + "]";
            Map<String, Node> pm = mapping(portItems.get(i), pf, SERVICE_PORT_KEYS);
            if (!pm.containsKey("port")) {
                throw new ConfigException(where(portItems.get(i)) + pf + ": missing required field 'port'");
            }
            int port = port(pm.get("port"), pf + ".port", false);
            String portName = pm.containsKey("name") ? name(pm.get("name"), pf + ".name") : "";
            if (portName.isEmpty() && portItems.size() > 1) {
                throw new ConfigException(where(portItems.get(i)) + pf + ": a service with several ports names each");
            }
            if (!names.add(portName) || !numbers.add(port)) {
                throw new ConfigException(where(portItems.get(i)) + pf + ": port " + (portName.isEmpty() ? port
                        : portName) + " is listed twice");
            }
            String target = Integer.toString(port);
            if (pm.containsKey("targetPort")) {
                target = scalar(pm.get("targetPort"), pf + ".targetPort");
                if (target.chars().allMatch(Character::isDigit)) {
                    target = Integer.toString(port(pm.get("targetPort"), pf + ".targetPort", false));
                } else {
                    name(pm.get("targetPort"), pf + ".targetPort");
                }
            }
            ports.add(new ServiceSpec.Port(portName, port, target));
        }
        Map<String, String> selector = stringMap(m.get("selector"), field + ".selector");
        List<ServiceSpec.Endpoint> endpoints = new ArrayList<>();
        if (!selector.isEmpty()) {
            for (ParsedPod pod : pods) {
                PodSpec p = pod.spec;
                if (!p.namespace().equals(namespace) || !p.labels().entrySet().containsAll(selector.entrySet())) {
                    continue;
                }
                Map<String, Integer> resolved = new HashMap<>();
                for (ServiceSpec.Port port : ports) {
                    Integer number = port.targetPort().chars().allMatch(Character::isDigit)
                            ? Integer.valueOf(port.targetPort()) : pod.ports.get(port.targetPort());
                    if (number != null) {
                        resolved.put(port.name(), number);
                    }
                }
                for (InetAddress ip : p.ips()) {
                    endpoints.add(new ServiceSpec.Endpoint(ip, pod.ready, p.key(), p.node(), resolved));
                }
            }
        }
        return new ServiceSpec(namespace, name, vips, ports, endpoints);
    }

    /** A policy: {@code name}, {@code namespace} and the spec's fields beside them ({@link PolicyReader}). */
    private AuthorizationPolicy policy(Node node, String field) throws ConfigException {
        Map<String, Node> m = mapping(node, field, Set.of("name", "namespace", "selector", "action", "rules"));
        if (!m.containsKey("name")) {
            throw new ConfigException(where(node) + field + ": missing required field 'name'");
        }
        String name = name(m.get("name"), field + ".name");
        String namespace = m.containsKey("namespace") ? name(m.get("namespace"), field + ".namespace") : "default";
        Map<String, Object> spec = new LinkedHashMap<>();
        for (String key : List.of("selector", "action", "rules")) {
            if (m.containsKey(key)) {
                spec.put(key, plain(m.get(key)));
            }
        }
        try {
            return PolicyReader.read(namespace, name, spec, field);
        } catch (PolicyException e) {
            throw new ConfigException(where(node) + e.getMessage());
        }
    }

    /** A YAML node as maps, lists and strings (null for YAML's null), for readers shared with the Kubernetes source. */
    private static Object plain(Node node) {
        if (node instanceof MappingNode mn) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (NodeTuple t : mn.getValue()) {
                out.put(t.getKeyNode() instanceof ScalarNode k ? k.getValue() : "?", plain(t.getValueNode()));
            }
            return out;
        }
        if (node instanceof SequenceNode sn) {
            List<Object> out = new ArrayList<>();
            sn.getValue().forEach(n -> out.add(plain(n)));
            return out;
        }
        return isNull(node) ? null : ((ScalarNode) node).getValue();
    }

    /** A mapping of strings to strings (labels, annotations, selectors); absent or empty is empty. */
    private Map<String, String> stringMap(Node node, String field) throws ConfigException {
        if (node == null || isNull(node)) {
            return Map.of();
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, Node> e : mapping(node, field, null).entrySet()) {
            out.put(e.getKey(), scalar(e.getValue(), field + "." + e.getKey()));
        }
        return out;
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
        Duration d;
        try {
            d = DurationText.parse(scalar(node, field));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where(node) + field + ": " + e.getMessage());
        }
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

    private CaptureMode capture(Node node) throws ConfigException {
        String text = scalar(node, "proxy.capture");
        try {
            return CaptureMode.parse(text);
        } catch (RulesException e) {
            throw new ConfigException(where(node) + "proxy.capture: '" + text
                    + "' is not one of redirect, tproxy, ebpf");
        }
    }

    private InetSocketAddress address(Node node, String field) throws ConfigException {
        String text = scalar(node, field);
        try {
            return HostPort.parse(text);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(where(node) + field + ": " + e.getMessage());
        }
    }

    private Path socketPath(Node node) throws ConfigException {
        String text = scalar(node, "proxy.adminSocket");
        if (!text.startsWith("/")) {
            throw new ConfigException(where(node) + "proxy.adminSocket: '" + text + "' is not an absolute path");
        }
        return Path.of(text);
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

    /** A mapping's entries by key; {@code allowed} null: any scalar key. */
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
            if (key == null || allowed != null && !allowed.contains(key)) {
                throw new ConfigException(where(keyNode) + prefix + (key == null ? "?" : key) + ": unknown key"
                        + (allowed == null ? "" : " (expected one of "
                        + String.join(", ", allowed.stream().sorted().toList()) + ")"));
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
        return node == null || isNull(node) ? List.of() : sequence(node, field);
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
