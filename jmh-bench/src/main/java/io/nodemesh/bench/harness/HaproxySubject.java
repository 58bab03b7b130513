package io.nodemesh.bench.harness;

import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Debian's HAProxy in TCP mode, one thread, in the client pod: the peer to beat. */
final class HaproxySubject implements Subject {

    static final int PORT = 15101;

    private final Netns client;
    private final Process process;

    private HaproxySubject(Netns client, Process process) {
        this.client = client;
        this.process = process;
    }

    /** Writes the config, starts HAProxy pinned to {@code cpu}, and waits until it accepts. */
    static HaproxySubject start(Netns client, InetSocketAddress server, int cpu, int nice, Path workDir)
            throws IOException, Unavailable {
        if (!io.nodemesh.topology.Commands.run("haproxy", "-v").ok()) {
            throw new Unavailable("haproxy is not installed (apt-get install haproxy)");
        }
        Path cfg = workDir.resolve("haproxy.cfg");
        Files.writeString(cfg, config(server));
        Path log = workDir.resolve("haproxy.log");
        Process p = Processes.spawn(client, cpu, nice, log, List.of("haproxy", "-db", "-f", cfg.toString()));
        InetSocketAddress listen = new InetSocketAddress("127.0.0.1", PORT);
        Processes.awaitReady("haproxy", p, log, Duration.ofSeconds(15), () -> Processes.canConnect(client, listen));
        return new HaproxySubject(client, p);
    }

    static String config(InetSocketAddress server) {
        return """
                global
                    nbthread 1
                    maxconn 4096
                defaults
                    mode tcp
                    timeout connect 5s
                    timeout client 60s
                    timeout server 60s
                frontend bench
                    bind 127.0.0.1:%d
                    default_backend server
                backend server
                    server s1 %s:%d
                """.formatted(PORT, server.getAddress().getHostAddress(), server.getPort());
    }

    @Override
    public String name() {
        return "haproxy";
    }

    @Override
    public Netns client() {
        return client;
    }

    @Override
    public String url() {
        return "http://127.0.0.1:" + PORT + "/";
    }

    @Override
    public Process process() {
        return process;
    }
}
