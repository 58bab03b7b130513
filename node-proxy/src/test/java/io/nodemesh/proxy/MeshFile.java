package io.nodemesh.proxy;

import io.nodemesh.topology.Netns;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Collectors;


/**
 * The standalone config file of a test node, as a builder: test ports, two workers, short timeouts, rules by the
 * proxy (iptables unless {@link #rules} says otherwise), and the pods to capture. Get one from {@link MeshExtension#config()}, which knows the pods' names.
 */
public final class MeshFile {

    private final Function<Netns, String> podNames;
    private final List<Supplier<String>> pods = new ArrayList<>();
    private final Map<String, String> labels = new HashMap<>();
    private final Set<String> notReady = new HashSet<>();
    private final List<String> services = new ArrayList<>();
    private final List<String> policies = new ArrayList<>();
    private String namespaceLabels;
    private String rules = "iptables";
    private String captureMode;
    private String idleTimeout = "1m";
    private String connectTimeout = "2s";
    private String drainTimeout = "2s";
    private String identity = "";
    private String keepalive;

    MeshFile(Function<Netns, String> podNames) {
        this.podNames = podNames;
    }

    /** {@code nft} (the default), {@code iptables} or {@code none}. */
    public MeshFile rules(String backend) {
        this.rules = backend;
        return this;
    }

    /** {@code proxy.capture}: {@code redirect} (the default) or {@code tproxy}. */
    public MeshFile captureMode(String mode) {
        this.captureMode = mode;
        return this;
    }

    /** Connect timeout of the proxy's upstream connections (a tunnel connection: TCP, TLS and HTTP/2 settings). */
    public MeshFile connectTimeout(String duration) {
        this.connectTimeout = duration;
        return this;
    }

    public MeshFile idleTimeout(String duration) {
        this.idleTimeout = duration;
        return this;
    }

    public MeshFile drainTimeout(String duration) {
        this.drainTimeout = duration;
        return this;
    }

    /** {@code proxy.keepalive}: {@code off} or a flow mapping such as {@code {time: 1s, interval: 1s, probes: 2}}. */
    public MeshFile keepalive(String yaml) {
        this.keepalive = yaml;
        return this;
    }

    /** Identities in trust domain {@code domain}, without a mesh CA (what telemetry names principals by). */
    public MeshFile trustDomain(String domain) {
        this.identity = "  identity:\n    trustDomain: " + domain + "\n";
        return this;
    }

    /** Workload certificates from the mesh CA in {@code caDir}, of {@code lifetime} (e.g. {@code 2m}). */
    public MeshFile identity(Path caDir, String lifetime) {
        this.identity = "  identity:\n    caDir: " + caDir + "\n    certificateLifetime: " + lifetime + "\n";
        return this;
    }

    /** Captures these pods (made by {@link MeshExtension#pod}), in namespace {@code demo}, service account = name. */
    public MeshFile capture(Netns... namespaces) {
        for (Netns ns : namespaces) {
            String name = podNames.apply(ns);
            // Rendered when the file is written: a later service() labels the pod.
            pods.add(() -> podEntry(name, ns) + (labels.containsKey(name) ? "    labels: {service: " + labels.get(name)
                    + "}\n" : "") + (notReady.contains(name) ? "    ready: false\n" : ""));
        }
        return this;
    }

    /** Captures {@code ns} as {@link #capture(Netns...)} does, its entry naming {@code cgroup} as the pod's cgroup. */
    public MeshFile capture(Netns ns, io.nodemesh.topology.Cgroup cgroup) {
        String name = podNames.apply(ns);
        pods.add(() -> podEntry(name, ns) + "    cgroup: " + cgroup.path() + "\n");
        return this;
    }

    /**
     * Lists these pods (made by {@link MeshExtension#pod} or {@link MeshExtension#podOnSecondNode}) as pods of another
     * node, {@code nodeName}: known to this node's proxy (addresses, identity, enrolment), not captured by it.
     */
    public MeshFile elsewhere(String nodeName, Netns... namespaces) {
        for (Netns ns : namespaces) {
            String name = podNames.apply(ns);
            String entry = podEntry(name, ns).replaceFirst("    netns: .*\n", "    node: " + nodeName + "\n");
            pods.add(() -> entry);
        }
        return this;
    }

    /**
     * A service {@code name} in namespace {@code demo} at {@code vip}:{@code port} whose endpoints are {@code backends}
     * (pods made by {@link MeshExtension#pod}, listed with {@link #capture} or not) on {@code targetPort}; the pods in
     * {@code unready} are endpoints that are not ready. Give the service an unused address of the pods' network: the
     * client needs a route to it for the capture to see the connection.
     */
    public MeshFile service(String name, InetAddress vip, int port, int targetPort, List<Netns> backends,
            List<Netns> unready) {
        StringBuilder s = new StringBuilder();
        s.append("  - name: ").append(name).append("\n    namespace: demo\n    addresses: [")
                .append(vip.getHostAddress()).append("]\n    ports: [{port: ").append(port).append(", targetPort: ")
                .append(targetPort).append("}]\n    selector: {service: ").append(name).append("}\n");
        services.add(s.toString());
        for (Netns b : backends) {
            String pod = podNames.apply(b);
            labels.put(pod, name);
            if (unready.contains(b)) {
                notReady.add(pod);
            }
        }
        return this;
    }

    /**
     * Lists namespace {@code demo}, enrolled by its label, with these labels besides (e.g.
     * {@code "nodemesh.io/peer-authentication: strict"}; empty for none): its pods are then captured by enrolment.
     */
    public MeshFile demoNamespace(String extraLabels) {
        this.namespaceLabels = extraLabels;
        return this;
    }

    /** A policy entry written as is (two-space list indent), under {@code policies}. */
    public MeshFile policy(String yaml) {
        policies.add(yaml);
        return this;
    }

    /** A pod entry written as is (two-space list indent), e.g. one whose namespace does not exist. */
    public MeshFile entry(String yaml) {
        pods.add(() -> yaml);
        return this;
    }

    /** The file's text. */
    public String yaml() {
        String proxy = """
                proxy:
                  rules: %s
                  workers: 2
                  connectTimeout: %s
                  idleTimeout: %s
                  drainTimeout: %s
                """.formatted(rules, connectTimeout, idleTimeout, drainTimeout)
                + (captureMode == null ? "" : "  capture: " + captureMode + "\n")
                + (keepalive == null ? "" : "  keepalive: " + keepalive + "\n") + identity;
        String head = namespaceLabels == null ? proxy : proxy + "namespaces:\n  - name: demo\n"
                + "    labels: {nodemesh.io/capture: enabled" + (namespaceLabels.isEmpty() ? "" : ", " + namespaceLabels)
                + "}\n";
        String text = pods.isEmpty() ? head + "pods: []\n" : head + "pods:\n" + pods.stream().map(Supplier::get).collect(Collectors.joining());
        text = services.isEmpty() ? text : text + "services:\n" + String.join("", services);
        return policies.isEmpty() ? text : text + "policies:\n" + String.join("", policies);
    }

    private static String podEntry(String name, Netns ns) {
        if (name == null) {
            throw new IllegalArgumentException(ns + " is not a pod of this mesh: make it with MeshExtension.pod");
        }
        StringBuilder ips = new StringBuilder();
        if (ns.ipv4() != null) {
            ips.append(ns.ipv4().getHostAddress());
        }
        if (ns.ipv6() != null) {
            ips.append(ips.isEmpty() ? "" : ", ").append(ns.ipv6().getHostAddress());
        }
        return """
                  - name: %s
                    namespace: demo
                    serviceAccount: %s
                    ips: [%s]
                    netns: %s
                """.formatted(name, name, ips, ns.path());
    }

    @Override
    public String toString() {
        return yaml();
    }
}
