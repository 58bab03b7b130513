package io.nodemesh.bench.harness;

import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Debian's HAProxy in TCP mode, one thread, in the client pod: the peer to beat. Plain ({@code haproxy}), wrk connects
 * to it on loopback and it forwards to the server. Captured ({@code haproxy-captured}), it sits behind the same kind of
 * capture as the proxy: wrk connects to the server's address, an iptables REDIRECT in the pod's OUTPUT chain (the
 * proxy's own chain layout, HAProxy's sockets let through by its uid, {@code nobody}, where the proxy's carry its mark)
 * sends the connection to HAProxy, and HAProxy forwards it to its original destination ({@code SO_ORIGINAL_DST}, its
 * {@code server 0.0.0.0}). So both pay the same NAT and connection tracking for every connection and packet.
 */
final class HaproxySubject implements Subject {

    static final int PORT = 15101;
    static final int CAPTURED_PORT = 15102;
    private static final String CHAIN = "HAPROXY_OUTPUT";

    private final Netns client;
    private final Process process;
    private final boolean captured;
    private final String url;
    private long redirectedBefore;

    private HaproxySubject(Netns client, Process process, boolean captured, String url) {
        this.client = client;
        this.process = process;
        this.captured = captured;
        this.url = url;
    }

    /** Writes the config, starts HAProxy pinned to {@code cpu}, and waits until it accepts. */
    static HaproxySubject start(Netns client, InetSocketAddress server, int cpu, int nice, Path workDir)
            throws IOException, Unavailable {
        return start(client, server, cpu, nice, workDir, false);
    }

    /**
     * {@link #start(Netns, InetSocketAddress, int, int, Path)}, behind the capture when {@code captured}: the pod's
     * REDIRECT rules are added first, and a connection to {@code server} must then reach it through HAProxy.
     */
    static HaproxySubject start(Netns client, InetSocketAddress server, int cpu, int nice, Path workDir,
                                boolean captured) throws IOException, Unavailable {
        if (!Commands.run("haproxy", "-v").ok()) {
            throw new Unavailable("haproxy is not installed (apt-get install haproxy)");
        }
        String name = captured ? "haproxy-captured" : "haproxy";
        Path cfg = workDir.resolve(name + ".cfg");
        Files.writeString(cfg, captured ? capturedConfig() : config(server));
        if (captured) {
            for (List<String> rule : captureRules(uidOfNobody())) {
                ExecResult r = client.exec(rule.toArray(String[]::new));
                if (!r.ok()) {
                    throw new Unavailable("`" + String.join(" ", rule) + "` failed: " + r.stderr().strip());
                }
            }
        }
        Path log = workDir.resolve(name + ".log");
        Process p = Processes.spawn(client, cpu, nice, log, List.of("haproxy", "-db", "-f", cfg.toString()));
        InetSocketAddress probe = captured ? server : new InetSocketAddress("127.0.0.1", PORT);
        Processes.awaitReady(name, p, log, Duration.ofSeconds(15), () -> Processes.canConnect(client, probe));
        String url = "http://" + (captured ? server.getAddress().getHostAddress() + ":" + server.getPort()
                : "127.0.0.1:" + PORT) + "/";
        HaproxySubject subject = new HaproxySubject(client, p, captured, url);
        if (captured && subject.redirectedNow() < 1) {
            p.destroy();
            throw new Unavailable("the probe connection to " + server + " did not go through the pod's REDIRECT to :"
                    + CAPTURED_PORT);
        }
        return subject;
    }

    static String config(InetSocketAddress server) {
        return config("", PORT, server.getAddress().getHostAddress() + ":" + server.getPort());
    }

    /** Behind the capture: {@code server 0.0.0.0} connects to each connection's original destination, port and all. */
    static String capturedConfig() {
        return config("    user nobody\n", CAPTURED_PORT, "0.0.0.0");
    }

    /** TCP mode, one thread, on 127.0.0.1:{@code port}, to {@code server}; {@code global} adds to the global section. */
    private static String config(String global, int port, String server) {
        return """
                global
                    nbthread 1
                    maxconn 4096
                %sdefaults
                    mode tcp
                    timeout connect 5s
                    timeout client 60s
                    timeout server 60s
                frontend bench
                    bind 127.0.0.1:%d
                    default_backend server
                backend server
                    server s1 %s
                """.formatted(global, port, server);
    }

    /**
     * The pod's capture for the captured HAProxy, as {@code iptables} argv lists: the layout of the proxy's own rules
     * (redirect-rules' {@code IptablesRenderer}: a chain jumped to from OUTPUT, returning for the proxy's own sockets,
     * loopback and 127.0.0.1, redirecting the rest), with the uid {@code haproxyUid} in place of the proxy's mark.
     */
    static List<List<String>> captureRules(int haproxyUid) {
        List<String> nat = List.of("iptables", "-w", "-t", "nat");
        return List.of(
                concat(nat, "-N", CHAIN),
                concat(nat, "-A", "OUTPUT", "-p", "tcp", "-j", CHAIN),
                concat(nat, "-A", CHAIN, "-m", "owner", "--uid-owner", Integer.toString(haproxyUid), "-j", "RETURN"),
                concat(nat, "-A", CHAIN, "-o", "lo", "-j", "RETURN"),
                concat(nat, "-A", CHAIN, "-d", "127.0.0.1/32", "-j", "RETURN"),
                concat(nat, "-A", CHAIN, "-p", "tcp", "-j", "REDIRECT", "--to-ports", Integer.toString(CAPTURED_PORT)));
    }

    private static List<String> concat(List<String> head, String... tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(List.of(tail));
        return all;
    }

    private static int uidOfNobody() throws Unavailable {
        ExecResult r = Commands.run("id", "-u", "nobody");
        if (!r.ok()) {
            throw new Unavailable("there is no user nobody for HAProxy to run as behind the capture");
        }
        return Integer.parseInt(r.stdout().strip());
    }

    private long redirectedNow() {
        return NodemeshSubject.redirectedPackets(client.exec("iptables-save", "-c", "-t", "nat").stdout(), CAPTURED_PORT);
    }

    @Override
    public void beforeRun() {
        if (captured) {
            redirectedBefore = redirectedNow();
        }
    }

    @Override
    public void afterRun(int connections) {
        if (!captured) {
            return;
        }
        long redirected = redirectedNow() - redirectedBefore;
        if (redirected < connections) {
            throw new IllegalStateException("wrk's " + connections + " connections were not all captured: the pod's "
                    + "REDIRECT rule to :" + CAPTURED_PORT + " counted " + Math.max(redirected, 0) + " new connections");
        }
    }

    @Override
    public String name() {
        return captured ? "haproxy-captured" : "haproxy";
    }

    @Override
    public Netns client() {
        return client;
    }

    @Override
    public String url() {
        return url;
    }

    @Override
    public Process process() {
        return process;
    }
}
