package io.nodemesh.proxy.bench;

import io.nodemesh.testing.Commands;
import io.nodemesh.testing.ExecResult;
import io.nodemesh.testing.TestNamespace;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The nodemesh proxy as its own JVM ({@code java -jar nodemesh.jar proxy}) on the node, capturing
 * the client pod: wrk targets the server's IP and the pod's rules redirect it into the proxy.
 */
final class NodemeshSubject implements Subject {

    static final int OUTBOUND_PORT = 15001;
    private static final Pattern REDIRECT_RULE = Pattern.compile(
            "^\\[(\\d+):(\\d+)\\] .*-j REDIRECT .*--to-ports " + OUTBOUND_PORT + "\\b.*$", Pattern.MULTILINE);

    private final TestNamespace client;
    private final String url;
    private final Process process;
    private final String launchedAs;
    private final boolean viaCli;
    private long redirectedBefore;

    private NodemeshSubject(TestNamespace client, String url, Process process, String launchedAs, boolean viaCli) {
        this.client = client;
        this.url = url;
        this.process = process;
        this.launchedAs = launchedAs;
        this.viaCli = viaCli;
    }

    /** How the proxy was started, for the report. */
    String launchNote() {
        return "nodemesh proxy started as `java <flags> " + launchedAs + "`"
                + (viaCli ? "" : " — the jar has no `nodemesh proxy` command yet, so the benchmark's launcher runs the same "
                + "NodeProxy (no telemetry sink); it switches to `nodemesh proxy` once the CLI has it");
    }

    /**
     * Starts the proxy in {@code node} pinned to {@code cpu}, capturing {@code client}, and waits
     * until its capture listener and rules are in the pod and a connection to the server works.
     */
    static NodemeshSubject start(TestNamespace node, TestNamespace client, InetSocketAddress server, Path jar,
                                 String transport, int cpu, int nice, Path workDir) throws IOException, Unavailable {
        boolean cli = hasProxyCommand(jar);
        Path cfg = workDir.resolve("proxy.yaml");
        Files.writeString(cfg, config(client, transport));
        Path log = workDir.resolve("proxy.log");
        List<String> argv = new ArrayList<>();
        argv.add(Processes.java());
        argv.addAll(Processes.JVM_FLAGS);
        if (cli) {
            argv.addAll(List.of("-jar", jar.toString(), "proxy", "--config", cfg.toString(),
                    "--transport", transport, "--workers", "1", "--admin", "127.0.0.1:0"));
        } else {
            argv.addAll(List.of("-cp", jar.toString(), ProxyProcess.class.getName(), cfg.toString(), transport, "1", "127.0.0.1:0"));
        }
        Process p = Processes.spawn(node, cpu, nice, log, argv);
        Processes.awaitReady("the nodemesh proxy", p, log, Duration.ofSeconds(30), () ->
                client.exec("ss", "-Hltn", "sport = :" + OUTBOUND_PORT).stdout().contains(":" + OUTBOUND_PORT)
                        && redirectedPackets(client.exec("iptables-save", "-c", "-t", "nat").stdout()) >= 0
                        && Processes.canConnect(client, server));
        return new NodemeshSubject(client, "http://" + server.getAddress().getHostAddress() + ":" + server.getPort() + "/", p,
                String.join(" ", argv.subList(argv.indexOf(cli ? "-jar" : "-cp"), argv.size())).replace(workDir + "/", ""), cli);
    }

    /** The standalone config: one captured pod, rules installed by the proxy itself. */
    static String config(TestNamespace client, String transport) {
        return """
                proxy: { mark: 0x539, outboundPort: %d, inboundPort: 15006, transport: %s, workers: 1, rules: iptables, admin: 127.0.0.1:0 }
                pods:
                  - { name: client, namespace: bench, serviceAccount: client, ips: [%s], netns: %s, capture: true }
                """.formatted(OUTBOUND_PORT, transport, client.ipv4().getHostAddress(), client.path());
    }

    /**
     * Whether the jar has the {@code nodemesh proxy} command; without it the proxy runs through
     * {@link ProxyProcess} from the same jar. Unavailable if the jar is missing or carries neither.
     */
    private static boolean hasProxyCommand(Path jar) throws Unavailable {
        if (!Files.isRegularFile(jar)) {
            throw new Unavailable(jar + " does not exist (build it: mvn -B -q -pl node-proxy -am package -DskipTests)");
        }
        List<String> argv = new ArrayList<>();
        argv.add(Processes.java());
        argv.addAll(Processes.JVM_FLAGS);
        argv.addAll(List.of("-jar", jar.toString(), "proxy", "--help"));
        ExecResult help = Commands.run(argv);
        // Without a `proxy` subcommand the top-level --help still answers with status 0: look for its usage line.
        if (help.ok() && help.stdout().contains("nodemesh proxy")) {
            return true;
        }
        try (JarFile contents = new JarFile(jar.toFile())) {
            if (contents.getEntry(ProxyProcess.class.getName().replace('.', '/') + ".class") != null) {
                return false;
            }
        } catch (IOException e) {
            throw new Unavailable(jar + " cannot be read as a jar: " + e.getMessage());
        }
        String why = (help.stderr() + "\n" + help.stdout()).strip().lines().limit(2).reduce((a, b) -> a + " " + b).orElse("");
        throw new Unavailable(jar + " has neither a `proxy` command (`nodemesh proxy --help` exited " + help.exitCode()
                + ": " + why + ") nor " + ProxyProcess.class.getName());
    }

    /**
     * Packets counted by the pod's {@code REDIRECT --to-ports 15001} rules in
     * {@code iptables-save -c -t nat} output (only a connection's first packet traverses nat, so
     * this counts captured connections), or -1 when there is no such rule.
     */
    static long redirectedPackets(String iptablesSave) {
        Matcher m = REDIRECT_RULE.matcher(iptablesSave);
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
    public TestNamespace client() {
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
