package io.nodemesh.proxy;

import io.nodemesh.topology.Netns;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The standalone config file of a test node, as a builder: test ports, two workers, short timeouts, rules by the
 * proxy, and the pods to capture. Get one from {@link MeshExtension#config()}, which knows the pods' names.
 */
public final class MeshFile {

    private final Function<Netns, String> podNames;
    private final List<String> pods = new ArrayList<>();
    private String rules = "iptables";
    private String idleTimeout = "1m";
    private String drainTimeout = "2s";

    MeshFile(Function<Netns, String> podNames) {
        this.podNames = podNames;
    }

    /** {@code iptables} (the default), {@code nft} or {@code none}. */
    public MeshFile rules(String backend) {
        this.rules = backend;
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

    /** Captures these pods (made by {@link MeshExtension#pod}), in namespace {@code demo}, service account = name. */
    public MeshFile capture(Netns... namespaces) {
        for (Netns ns : namespaces) {
            pods.add(podEntry(podNames.apply(ns), ns));
        }
        return this;
    }

    /** A pod entry written as is (two-space list indent), e.g. one whose namespace does not exist. */
    public MeshFile entry(String yaml) {
        pods.add(yaml);
        return this;
    }

    /** The file's text. */
    public String yaml() {
        String proxy = """
                proxy:
                  rules: %s
                  workers: 2
                  connectTimeout: 2s
                  idleTimeout: %s
                  drainTimeout: %s
                """.formatted(rules, idleTimeout, drainTimeout);
        return pods.isEmpty() ? proxy + "pods: []\n" : proxy + "pods:\n" + String.join("", pods);
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
