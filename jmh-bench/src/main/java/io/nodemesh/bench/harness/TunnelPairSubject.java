package io.nodemesh.bench.harness;

import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code nodemesh-mtls} subject: two node proxies sharing a mesh CA ({@code nodemesh ca init}), each the proxy of
 * its own "node" in its standalone file. Proxy 1 captures the client pod and knows the server pod as node 2's; proxy 2
 * captures the server pod and knows the client pod as node 1's. A connection goes client → proxy 1 (outbound capture)
 * → a pooled mutual-TLS HTTP/2 {@code CONNECT} stream to the server pod's :15008 → proxy 2 → the server app. Their
 * namespace is strict, so a connection that reached the server pod in plaintext would be refused: a request answered
 * proves the tunnel carried it.
 */
final class TunnelPairSubject {

    /** The pods' namespace, enrolled by its label, strict. */
    static final String NAMESPACE = "mesh";
    static final String CLIENT_NODE = "node-1";
    static final String SERVER_NODE = "node-2";
    /** The tunnel server's port in every meshed pod. */
    static final int TUNNEL_PORT = 15008;

    /** A pod as a node's file lists it: {@code netns} null for a pod of another node. */
    record PodEntry(String name, InetAddress ip, String node, Path netns) {
    }

    private final NodemeshSubject clientSide;
    private final Process serverSide;

    private TunnelPairSubject(NodemeshSubject clientSide, Process serverSide) {
        this.clientSide = clientSide;
        this.serverSide = serverSide;
    }

    /**
     * Makes the mesh CA in {@code workDir/ca}, starts the server pod's proxy (node 2) and waits for its :15008 in the
     * pod, then the client pod's proxy (node 1) and waits for its capture and a connection to {@code target}; both
     * proxies in {@code node} (their sockets live in the pods' namespaces), pinned to {@code cpu}.
     */
    static TunnelPairSubject start(Netns node, Netns client, Netns server, InetSocketAddress target, Path jar, int cpu,
                                   int nice, Path workDir) throws IOException, Subject.Unavailable {
        Path caDir = workDir.resolve("ca");
        List<String> init = new ArrayList<>(List.of(Processes.java()));
        init.addAll(Processes.JVM_FLAGS);
        init.addAll(List.of("-jar", jar.toString(), "ca", "init", "--dir", caDir.toString()));
        ExecResult ca = Commands.run(init);
        if (!ca.ok()) {
            throw new Subject.Unavailable("`nodemesh ca init` exited " + ca.exitCode() + ": " + ca.stderr().strip());
        }
        PodEntry clientPod = new PodEntry("client", client.ipv4(), CLIENT_NODE, client.path());
        PodEntry serverPod = new PodEntry("server", server.ipv4(), SERVER_NODE, server.path());
        NodemeshSubject.Launched node2 = NodemeshSubject.launch(node, jar, nodeConfig(caDir, serverPod, remote(clientPod)),
                "epoll", cpu, nice, Files.createDirectories(workDir.resolve(SERVER_NODE)), null);
        String tunnelPort = ":" + TUNNEL_PORT;
        Processes.awaitReady("the server node's proxy", node2.process(), node2.log(), Duration.ofSeconds(30),
                () -> server.exec("ss", "-Hltn", "sport = " + tunnelPort).stdout().contains(tunnelPort));
        NodemeshSubject node1 = NodemeshSubject.start(node, client, target, jar, nodeConfig(caDir, clientPod, remote(serverPod)),
                "epoll", cpu, nice, Files.createDirectories(workDir.resolve(CLIENT_NODE)), null);
        return new TunnelPairSubject(node1, node2.process());
    }

    private static PodEntry remote(PodEntry pod) {
        return new PodEntry(pod.name(), pod.ip(), pod.node(), null);
    }

    /**
     * One node's standalone file: the mesh CA, the strict enrolled namespace, {@code local} (this node's, captured)
     * and {@code remote} (the other node's: routed through the tunnel, by its service account's identity).
     */
    static String nodeConfig(Path caDir, PodEntry local, PodEntry remote) {
        StringBuilder yaml = new StringBuilder("""
                proxy:
                  mark: 0x539
                  outboundPort: %d
                  inboundPort: 15006
                  transport: epoll
                  workers: 1
                  rules: iptables
                  admin: 127.0.0.1:0
                  identity: { caDir: %s }
                namespaces:
                  - { name: %s, labels: { nodemesh.io/capture: enabled, nodemesh.io/peer-authentication: strict } }
                pods:
                """.formatted(NodemeshSubject.OUTBOUND_PORT, caDir, NAMESPACE));
        for (PodEntry p : List.of(local, remote)) {
            yaml.append("  - { name: ").append(p.name()).append(", namespace: ").append(NAMESPACE)
                    .append(", serviceAccount: ").append(p.name()).append(", ips: [").append(p.ip().getHostAddress())
                    .append("], node: ").append(p.node());
            if (p.netns() != null) {
                yaml.append(", netns: ").append(p.netns());
            }
            yaml.append(" }\n");
        }
        return yaml.toString();
    }

    /** Proxy 1, capturing the client pod: its redirect counter proves each run went into the pair. */
    NodemeshSubject clientSide() {
        return clientSide;
    }

    /** Both proxies, whose CPU and memory the subject's figures sum. */
    List<Process> processes() {
        return List.of(clientSide.process(), serverSide);
    }
}
