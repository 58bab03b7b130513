package io.nodemesh.daemonset;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.nodemesh.cli.NodemeshCommand;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.discovery.StandaloneConfig;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;
import picocli.CommandLine.ParseResult;

/**
 * The DaemonSet's command lines as the real {@code nodemesh} commands parse them (a misspelt option or a bad value
 * fails), and the paths, ports and environment they name agree with the mounts, probes and annotations around them.
 */
class CommandLinesTest {

    private static final String NODE = "node-a";

    static Stream<Manifests> installs() {
        return PostureTest.installs();
    }

    @ParameterizedTest
    @MethodSource("installs")
    void theProxyFindsEverythingItNamesWhereTheManifestPutsIt(Manifests m, @TempDir Path dir)
            throws IOException, ConfigException {
        Container proxy = m.container("node-proxy");
        ParseResult args = parse(proxy, "proxy");
        assertThat(args.hasMatchedOption("--kubernetes")).isTrue();
        assertThat(args.matchedOptionValue("--node-name", "")).isEqualTo(NODE);
        assertThat(args.hasMatchedOption("--no-cni")).isFalse();
        assertThat(args.hasMatchedOption("--no-telemetry")).isFalse();

        InetSocketAddress readiness = HostPort.parse(args.matchedOptionValue("--readiness", ""));
        assertThat(readiness.getAddress().isAnyLocalAddress()).as("the kubelet probes the pod's address").isTrue();
        assertThat(proxy.getReadinessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(readiness.getPort());
        assertThat(proxy.getPorts()).anySatisfy(p -> assertThat(p.getContainerPort()).isEqualTo(readiness.getPort()));

        boolean hosted = args.hasMatchedOption("--agent-in-process");
        for (String option : hosted ? List.of("--config", "--admin-socket", "--cni-socket", "--cni-enrolment-file",
                "--host-proc", "--cgroup-root", "--bpffs") : List.of("--config", "--admin-socket", "--cni-socket",
                "--cni-enrolment-file", "--telemetry-socket", "--host-proc", "--cgroup-root", "--bpffs")) {
            Path path = args.matchedOptionValue(option, (Path) null);
            assertThat(path).as(option).isNotNull();
            mountOf(proxy, path);
        }
        // The hosted agent takes the reports without a socket; nodemesh proxy refuses one with it.
        assertThat(hosted && args.hasMatchedOption("--telemetry-socket")).isFalse();
        assertThat(mountOf(proxy, args.matchedOptionValue("--host-proc", (Path) null)).getName())
                .isEqualTo("host-proc");
        assertThat(mountOf(proxy, args.matchedOptionValue("--cgroup-root", (Path) null)).getName())
                .isEqualTo("host-cgroup");
        assertThat(mountOf(proxy, args.matchedOptionValue("--bpffs", (Path) null)).getName()).isEqualTo("host-bpffs");
        // The CNI plugin on the host reaches the control socket and the enrolment file: they are on the host.
        assertThat(hostPath(m, proxy, args.matchedOptionValue("--cni-socket", (Path) null))).isNotNull();
        assertThat(hostPath(m, proxy, args.matchedOptionValue("--cni-enrolment-file", (Path) null))).isNotNull();
        assertThat(mountOf(proxy, Path.of("/var/run/netns/cni-1")).getMountPropagation()).isEqualTo("HostToContainer");

        // --config names the ConfigMap's file, which the proxy accepts, and its CA directory is the Secret's mount.
        Path config = args.matchedOptionValue("--config", (Path) null);
        VolumeMount configMount = mountOf(proxy, config);
        assertThat(configMount.getName()).isEqualTo("mesh");
        assertThat(Path.of(configMount.getMountPath()).relativize(config).toString()).isEqualTo("mesh.yaml");
        StandaloneConfig.Document mesh = StandaloneConfig.load(PostureTest.meshFile(m, dir));
        Path caDir = mesh.boot().identity().caDir();
        assertThat(caDir).as("mutual TLS needs the mesh CA").isNotNull();
        assertThat(mountOf(proxy, caDir.resolve("ca-cert.pem")).getName()).isEqualTo("mesh-ca");
        assertThat(mesh.boot().readiness()).as("the command line sets it, not the file")
                .isNotEqualTo(readiness).isEqualTo(io.nodemesh.proxy.config.BootSettings.defaults().readiness());
    }

    @ParameterizedTest
    @MethodSource("installs")
    void theAgentListensWhereTheProxyReportsAndIsScrapedWhereAnnotated(Manifests m) {
        Container proxy = m.container("node-proxy");
        ParseResult proxyArgs = parse(proxy, "proxy");
        Map<String, String> annotations = m.one(DaemonSet.class).getSpec().getTemplate().getMetadata().getAnnotations();
        if (!m.has("telemetry-agent")) {
            // Hosted: the proxy hands its reports to the agent in its own process, which serves /metrics.
            assertThat(proxyArgs.hasMatchedOption("--agent-in-process")).isTrue();
            InetSocketAddress metrics = proxyArgs.matchedOptionValue("--metrics-address", (InetSocketAddress) null);
            assertThat(metrics.getAddress().isAnyLocalAddress()).isTrue();
            assertThat(annotations.get("prometheus.io/port")).isEqualTo(String.valueOf(metrics.getPort()));
            assertThat(proxy.getPorts()).anySatisfy(p -> assertThat(p.getContainerPort()).isEqualTo(metrics.getPort()));
            return;
        }
        assertThat(proxyArgs.hasMatchedOption("--agent-in-process")).isFalse();
        Container agent = m.container("telemetry-agent");
        ParseResult args = parse(agent, "agent");
        Path socket = args.matchedOptionValue("--socket", (Path) null);
        assertThat(socket).isEqualTo(proxyArgs.matchedOptionValue("--telemetry-socket", (Path) null));
        // The same volume in both containers, so the socket the agent makes is the one the proxy connects to.
        assertThat(mountOf(agent, socket).getName()).isEqualTo(mountOf(proxy, socket).getName()).isEqualTo("telemetry");
        InetSocketAddress metrics = args.matchedOptionValue("--metrics-address", (InetSocketAddress) null);
        assertThat(metrics.getAddress().isAnyLocalAddress()).isTrue();
        assertThat(annotations.get("prometheus.io/port")).isEqualTo(String.valueOf(metrics.getPort()));
        assertThat(agent.getPorts()).anySatisfy(p -> assertThat(p.getContainerPort()).isEqualTo(metrics.getPort()));
        assertThat(agent.getLivenessProbe().getHttpGet().getPort().getIntVal()).isEqualTo(metrics.getPort());
    }

    @ParameterizedTest
    @MethodSource("installs")
    void theInstallerWritesTheHostPathsWhereTheProxysSocketLands(Manifests m) {
        Container installer = m.container("install-cni");
        assertThat(installer.getRestartPolicy()).as("a native sidecar").isEqualTo("Always");
        // The native sidecars, in the order they start: both before the proxy.
        assertThat(m.pod().getInitContainers()).extracting(Container::getName)
                .containsExactly("install-cni", "listener-keeper");
        // nodemesh-cni-watch runs the one-shot installer whenever the installer's own two directories change.
        assertThat(installer.getCommand()).containsExactly("nodemesh-cni-watch");
        List<String> all = new Kubelet(NODE, "nodemesh-x7k2q", "nodemesh-system").args(installer);
        int end = all.indexOf("--");
        assertThat(end).as("the command after --").isPositive();
        assertThat(all.get(end + 1)).isEqualTo("nodemesh");
        ParseResult args = parse(installer, all.subList(end + 2, all.size()), "install-cni");
        assertThat(args.hasMatchedOption("--watch")).as("one install per run; the watcher is the C program").isFalse();
        assertThat(args.hasMatchedOption("--uninstall")).isFalse();
        assertThat(all.subList(0, end)).containsExactlyInAnyOrder(
                "--dir=" + args.matchedOptionValue("--cni-conf-dir", (Path) null),
                "--dir=" + args.matchedOptionValue("--cni-bin-dir", (Path) null));
        assertThat(args.matchedOptionValue("--plugin-source", (Path) null)).isEqualTo(Path.of("/opt/nodemesh/cni"));
        assertThat(hostPath(m, installer, args.matchedOptionValue("--cni-bin-dir", (Path) null)))
                .isEqualTo(Path.of("/opt/cni/bin"));
        assertThat(hostPath(m, installer, args.matchedOptionValue("--cni-conf-dir", (Path) null)))
                .isEqualTo(Path.of("/etc/cni/net.d"));

        ParseResult proxy = parse(m.container("node-proxy"), "proxy");
        Path socketOnHost = hostPath(m, m.container("node-proxy"), proxy.matchedOptionValue("--cni-socket", (Path) null));
        Path enrolmentOnHost = hostPath(m, m.container("node-proxy"),
                proxy.matchedOptionValue("--cni-enrolment-file", (Path) null));
        assertThat(args.matchedOptionValue("--control-socket", (Path) null)).isEqualTo(socketOnHost);
        assertThat(args.matchedOptionValue("--enrolment-file", (Path) null)).isEqualTo(enrolmentOnHost);
        assertThat(args.matchedOptionValue("--state-dir", (Path) null)).isEqualTo(socketOnHost.getParent());
        // Only the nodemesh-system pods themselves and kube-system are passed by without asking the proxy.
        assertThat(args.hasMatchedOption("--exclude-namespaces")).isFalse();
    }

    @ParameterizedTest
    @MethodSource("installs")
    void theListenerKeeperListensWhereTheProxyLooksForIt(Manifests m) throws Exception {
        Container keeper = m.container("listener-keeper");
        assertThat(keeper.getRestartPolicy()).as("a native sidecar: it runs on while node-proxy restarts")
                .isEqualTo("Always");
        assertThat(m.pod().getInitContainers()).as("it starts before the proxy").contains(keeper);
        assertThat(keeper.getCommand()).containsExactly("nodemesh-keeper");
        List<String> args = new Kubelet(NODE, "nodemesh-x7k2q", "nodemesh-system").args(keeper);
        // The real program's parser takes them: it reads its arguments in order and answers --help only after every
        // argument before it parsed (a misspelt option, or --socket=PATH, exits 2 first). Nothing is opened.
        Path program = keeperProgram();
        Process help = new ProcessBuilder(Stream.concat(Stream.of(program.toString()),
                Stream.concat(args.stream(), Stream.of("--help"))).toList()).redirectErrorStream(true).start();
        String said = new String(help.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(help.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(help.exitValue()).as("nodemesh-keeper " + args + ": " + said).isZero();
        assertThat(said).as("the usage KeeperArgs follows").startsWith("usage: " + KeeperArgs.USAGE + "\n");

        KeeperArgs parsed = KeeperArgs.parse(keeper.getName(), args);
        ParseResult proxy = parse(m.container("node-proxy"), "proxy");
        // The proxy's --keeper-socket, or its default: keeper.sock beside the CNI control socket.
        Path proxysKeeper = proxy.hasMatchedOption("--keeper-socket")
                ? proxy.matchedOptionValue("--keeper-socket", (Path) null)
                : proxy.matchedOptionValue("--cni-socket", (Path) null).resolveSibling("keeper.sock");
        assertThat(parsed.socket()).isEqualTo(proxysKeeper);
        // On the same volume in both containers: the socket the keeper makes is the one the proxy connects to; and on
        // the host, where the next pod's keeper and proxy find it (a surge upgrade).
        assertThat(mountOf(keeper, parsed.socket()).getName()).isEqualTo(mountOf(m.container("node-proxy"),
                proxysKeeper).getName()).isEqualTo("run");
        assertThat(hostPath(m, keeper, parsed.socket())).isEqualTo(Path.of("/var/run/nodemesh/keeper.sock"));
        assertThat(mountOf(keeper, parsed.socket()).getReadOnly()).as("it makes its socket there").isNotEqualTo(true);
        // Not where another socket of the pod is.
        assertThat(parsed.socket()).isNotIn(Stream.of("--cni-socket", "--admin-socket", "--handover-socket")
                .map(o -> proxy.matchedOptionValue(o, (Path) null)).filter(Objects::nonNull).toList());
    }

    @Test
    void everyCommandTheManifestsRunIsAnExecutableOfTheImage() throws IOException {
        // image/src/build/stage-root.sh installs each into /opt/nodemesh/bin (on the image's PATH) mode 0755, and the
        // image's pom keeps that mode (Jib writes 644 for a file it is not told about).
        String stage = Files.readString(Manifests.repository("image/src/build/stage-root.sh"));
        String pom = Files.readString(Manifests.repository("image/pom.xml"));
        Set<String> commands = new TreeSet<>();
        for (Path dir : RenderTest.directories().toList()) {
            Manifests m = Manifests.render(dir);
            Stream.concat(m.pod().getInitContainers().stream(), m.pod().getContainers().stream())
                    .forEach(c -> commands.addAll(c.getCommand()));
        }
        assertThat(commands).containsExactlyInAnyOrder("nodemesh", "nodemesh-cni-watch", "nodemesh-keeper");
        for (String command : commands) {
            assertThat(stage).as("stage-root.sh installs " + command)
                    .containsPattern("install -m 0755 \\S+ \"\\$opt/bin/" + command + "\"\n");
            assertThat(pom).as("image/pom.xml keeps " + command + " executable")
                    .contains("<permission><file>/opt/nodemesh/bin/" + command
                            + "</file><mode>755</mode></permission>");
        }
    }

    /** node-proxy's build of nodemesh-keeper (its compile makes it), which the image installs. */
    static Path keeperProgram() {
        Path program = Manifests.repository("node-proxy/target/nodemesh-keeper");
        assertThat(Files.isExecutable(program)).as(program + " is missing: build node-proxy first")
                .isTrue();
        return program;
    }

    /**
     * nodemesh-keeper's command line as its main() reads it (node-proxy/src/main/native/nodemesh-keeper.c): its
     * {@link #USAGE}, nothing else; the socket's path must fit a Unix socket address.
     */
    record KeeperArgs(Path socket, int maxPods) {
        static final String USAGE = "nodemesh-keeper --socket PATH [--max-pods N]";

        static KeeperArgs parse(String container, List<String> args) {
            Path socket = null;
            int maxPods = 4096;
            for (int i = 0; i < args.size(); i++) {
                String a = args.get(i);
                if (a.equals("--socket") && i + 1 < args.size()) {
                    socket = Path.of(args.get(++i));
                } else if (a.equals("--max-pods") && i + 1 < args.size()) {
                    maxPods = Integer.parseInt(args.get(++i));
                    assertThat(maxPods).as(container + ": --max-pods").isBetween(1, 65536);
                } else {
                    throw new AssertionError(container + ": nodemesh-keeper refuses " + args + " at " + a
                            + " (usage: " + USAGE + ")");
                }
            }
            assertThat(socket).as(container + ": --socket PATH is required").isNotNull();
            assertThat(socket.isAbsolute()).as(container + ": " + socket + " is absolute").isTrue();
            // sun_path: 108 bytes with the terminating NUL.
            assertThat(socket.toString().getBytes(StandardCharsets.UTF_8).length)
                    .as(container + ": " + socket + " fits a Unix socket address").isLessThan(108);
            return new KeeperArgs(socket, maxPods);
        }
    }

    @ParameterizedTest
    @MethodSource("installs")
    void nodeNameComesFromTheDownwardApi(Manifests m) {
        EnvVar node = m.container("node-proxy").getEnv().stream().filter(e -> e.getName().equals("NODE_NAME"))
                .findFirst().orElseThrow();
        assertThat(node.getValueFrom().getFieldRef().getFieldPath()).isEqualTo("spec.nodeName");
    }

    /** The container's command line as the kubelet expands it and the {@code nodemesh} command parses it. */
    static ParseResult parse(Container c, String subcommand) {
        assertThat(c.getCommand()).containsExactly("nodemesh");
        return parse(c, new Kubelet(NODE, "nodemesh-x7k2q", "nodemesh-system").args(c), subcommand);
    }

    /** {@code args} (of container {@code c}) as the {@code nodemesh} command parses them. */
    static ParseResult parse(Container c, List<String> args, String subcommand) {
        CommandLine cli = NodemeshCommand.commandLine();
        ParseResult result;
        try {
            result = cli.parseArgs(args.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            throw new AssertionError(c.getName() + ": nodemesh refuses " + args + ": " + e.getMessage(), e);
        }
        assertThat(result.subcommand()).as(c.getName() + " runs a subcommand").isNotNull();
        assertThat(result.subcommand().commandSpec().name()).isEqualTo(subcommand);
        return result.subcommand();
    }

    /** The mount of {@code c} that holds {@code path} (the deepest one); fails if none does. */
    static VolumeMount mountOf(Container c, Path path) {
        return c.getVolumeMounts().stream().filter(v -> path.startsWith(Path.of(v.getMountPath())))
                .max((a, b) -> Integer.compare(a.getMountPath().length(), b.getMountPath().length()))
                .orElseThrow(() -> new AssertionError(c.getName() + ": " + path + " is on no mounted volume"));
    }

    /** Where {@code path} of container {@code c} is on the host; fails unless its volume is a hostPath. */
    static Path hostPath(Manifests m, Container c, Path path) {
        VolumeMount mount = mountOf(c, path);
        Volume volume = m.volume(mount.getName());
        assertThat(volume.getHostPath()).as(path + " is on a hostPath volume").isNotNull();
        return Path.of(volume.getHostPath().getPath()).resolve(Path.of(mount.getMountPath()).relativize(path));
    }
}
