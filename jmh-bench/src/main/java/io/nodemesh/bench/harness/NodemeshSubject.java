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
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The nodemesh proxy as its own JVM ({@code java -jar nodemesh.jar proxy}) on the node, capturing
 * the client pod: wrk targets the server's IP and the pod's rules redirect it into the proxy.
 */
final class NodemeshSubject implements Subject {

    static final int OUTBOUND_PORT = 15001;

    private final Netns client;
    private final String url;
    private final Process process;
    private final String launchedAs;
    private long redirectedBefore;

    private NodemeshSubject(Netns client, String url, Process process, String launchedAs) {
        this.client = client;
        this.url = url;
        this.process = process;
        this.launchedAs = launchedAs;
    }

    /** How the proxy was started, for the report. */
    String launchNote() {
        return "the proxy ran as `" + envPrefix() + "java " + String.join(" ", ProxyJvmFlags.TUNED) + " " + launchedAs + "` in the node namespace, "
                + "without telemetry reporting (HAProxy logs nothing either; with the agent is issue 7's measurement)";
    }

    private static String envPrefix() {
        StringBuilder sb = new StringBuilder();
        ProxyJvmFlags.TUNED_ENV.forEach((k, v) -> sb.append(k).append('=').append(v).append(' '));
        return sb.toString();
    }

    /**
     * Starts the proxy in {@code node} pinned to {@code cpu}, capturing {@code client}, and waits
     * until its capture listener and rules are in the pod and a connection to the server works.
     */
    static NodemeshSubject start(Netns node, Netns client, InetSocketAddress server, Path jar,
                                 String transport, int cpu, int nice, Path workDir) throws IOException, Unavailable {
        return start(node, client, server, jar, transport, cpu, nice, workDir, null);
    }

    /**
     * The same, reporting every connection to the telemetry agent on {@code telemetrySocket}
     * (null: {@code --no-telemetry}).
     */
    static NodemeshSubject start(Netns node, Netns client, InetSocketAddress server, Path jar,
                                 String transport, int cpu, int nice, Path workDir, Path telemetrySocket)
            throws IOException, Unavailable {
        return start(node, client, server, jar, config(client, transport), transport, cpu, nice, workDir, telemetrySocket);
    }

    /**
     * The same with the standalone config {@code configText}, which must capture {@code client} (the tunnel pair's
     * client-side proxy has a mesh CA and knows the server's pod on the other node).
     */
    static NodemeshSubject start(Netns node, Netns client, InetSocketAddress server, Path jar, String configText,
                                 String transport, int cpu, int nice, Path workDir, Path telemetrySocket)
            throws IOException, Unavailable {
        Launched proxy = launch(node, jar, configText, transport, cpu, nice, workDir, telemetrySocket);
        Processes.awaitReady("the nodemesh proxy", proxy.process(), proxy.log(), Duration.ofSeconds(30), () ->
                client.exec("ss", "-Hltn", "sport = :" + OUTBOUND_PORT).stdout().contains(":" + OUTBOUND_PORT)
                        && redirectedPackets(client.exec("iptables-save", "-c", "-t", "nat").stdout()) >= 0
                        && Processes.canConnect(client, server));
        return new NodemeshSubject(client, "http://" + server.getAddress().getHostAddress() + ":" + server.getPort() + "/",
                proxy.process(), proxy.launchedAs());
    }

    /** A proxy process just started: its log, and its command line from {@code -jar} on, for the report. */
    record Launched(Process process, Path log, String launchedAs) {
    }

    /**
     * Starts {@code nodemesh proxy} in {@code node} pinned to {@code cpu} with {@code configText} as its standalone
     * file in {@code workDir} (one worker, ephemeral admin and readiness ports, its admin socket in {@code workDir}), without waiting
     * for it.
     */
    static Launched launch(Netns node, Path jar, String configText, String transport, int cpu, int nice, Path workDir,
                           Path telemetrySocket) throws IOException, Unavailable {
        checkJar(jar);
        Path cfg = workDir.resolve("proxy.yaml");
        Files.writeString(cfg, configText);
        Path log = workDir.resolve("proxy.log");
        // The proxy's footprint flags (bin/nodemesh proxy runs it the same way).
        List<String> argv = ProxyJvmFlags.tunedJava(Processes.java());
        // No telemetry: HAProxy logs nothing either, and the default agent socket is a host path that
        // must not receive the benchmark's connections; measuring with the agent is issue 7's business.
        argv.addAll(List.of("-jar", jar.toString(), "proxy", "--config", cfg.toString(),
                "--transport", transport, "--workers", "1", "--admin", "127.0.0.1:0",
                // Ephemeral: every proxy of the matrix runs in the one node namespace, where 15021 is had only once.
                "--readiness", "127.0.0.1:0",
                "--admin-socket", workDir.resolve("admin.sock").toString()));
        if (telemetrySocket == null) {
            argv.add("--no-telemetry");
        } else {
            argv.addAll(List.of("--telemetry-socket", telemetrySocket.toString()));
        }
        Process p = Processes.spawn(node, cpu, nice, log, argv);
        return new Launched(p, log,
                String.join(" ", argv.subList(argv.indexOf("-jar"), argv.size())).replace(workDir + "/", ""));
    }

    /** The standalone config: one captured pod, rules installed by the proxy itself. */
    static String config(Netns client, String transport) {
        return """
                proxy: { mark: 0x539, outboundPort: %d, inboundPort: 15006, transport: %s, workers: 1, rules: iptables, admin: 127.0.0.1:0 }
                pods:
                  - { name: client, namespace: bench, serviceAccount: client, ips: [%s], netns: %s, capture: true }
                """.formatted(OUTBOUND_PORT, transport, client.ipv4().getHostAddress(), client.path());
    }

    /** Fails with the reason unless {@code jar} exists and has the {@code nodemesh proxy} command. */
    private static void checkJar(Path jar) throws Unavailable {
        if (!Files.isRegularFile(jar)) {
            throw new Unavailable(jar + " does not exist (build it: mvn -B -q -pl cli -am package -DskipTests)");
        }
        List<String> argv = new ArrayList<>();
        argv.add(Processes.java());
        argv.addAll(Processes.JVM_FLAGS);
        argv.addAll(List.of("-jar", jar.toString(), "proxy", "--help"));
        ExecResult help = Commands.run(argv);
        // Without a `proxy` subcommand the top-level --help still answers with status 0: look for its usage line.
        if (!help.ok() || !help.stdout().contains("nodemesh proxy")) {
            String why = (help.stderr() + "\n" + help.stdout()).strip().lines().limit(2).reduce((a, b) -> a + " " + b).orElse("");
            throw new Unavailable(jar + " has no working `nodemesh proxy` command (`proxy --help` exited "
                    + help.exitCode() + ": " + why + ")");
        }
    }

    /** {@link #redirectedPackets(String, int)} to the proxy's outbound port, 15001. */
    static long redirectedPackets(String iptablesSave) {
        return redirectedPackets(iptablesSave, OUTBOUND_PORT);
    }

    /**
     * Packets counted by the pod's {@code REDIRECT --to-ports PORT} rules in
     * {@code iptables-save -c -t nat} output (only a connection's first packet traverses nat, so
     * this counts captured connections), or -1 when there is no such rule.
     */
    static long redirectedPackets(String iptablesSave, int port) {
        Matcher m = Pattern.compile("^\\[(\\d+):(\\d+)\\] .*-j REDIRECT .*--to-ports " + port + "\\b.*$",
                Pattern.MULTILINE).matcher(iptablesSave);
        long sum = -1;
        while (m.find()) {
            sum = Math.max(sum, 0) + Long.parseLong(m.group(1));
        }
        return sum;
    }

    private long redirectedNow() {
        return redirectedPackets(client.exec("iptables-save", "-c", "-t", "nat").stdout());
    }

    @Override
    public void beforeRun() {
        redirectedBefore = redirectedNow();
    }

    @Override
    public void afterRun(int connections) {
        long captured = redirectedNow() - redirectedBefore;
        if (redirectedBefore < 0 || captured < connections) {
            throw new IllegalStateException("wrk's " + connections + " connections were not all captured: the pod's "
                    + "REDIRECT rule to :" + OUTBOUND_PORT + " counted " + Math.max(captured, 0) + " new connections");
        }
    }

    @Override
    public String name() {
        return "nodemesh";
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
