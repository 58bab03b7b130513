package io.nodemesh.daemonset;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.DaemonSetUpdateStrategy;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.PolicyRule;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.discovery.StandaloneConfig;
import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The security posture and the operational settings of the rendered install, in the base and every overlay. */
class PostureTest {

    private static final List<String> CONTAINERS = List.of("install-cni", "listener-keeper", "node-proxy",
            "telemetry-agent");
    /** The native sidecars, root without any capability: what they do needs root's ownership, nothing more. */
    private static final List<String> ROOT_WITHOUT_CAPABILITIES = List.of("install-cni", "listener-keeper");

    static Stream<Manifests> installs() {
        return RenderTest.directories().map(Manifests::render);
    }

    @ParameterizedTest
    @MethodSource("installs")
    void nothingPrivilegedAndOnlyTheCapabilitiesTheProxyUses(Manifests m) {
        PodSpec pod = m.pod();
        assertThat(pod.getHostNetwork()).isNotEqualTo(Boolean.TRUE);
        assertThat(pod.getHostPID()).isNotEqualTo(Boolean.TRUE);
        assertThat(pod.getHostIPC()).isNotEqualTo(Boolean.TRUE);
        List<String> containers = CONTAINERS.stream().filter(m::has).toList();
        assertThat(containers).as("the installer, the listener keeper and the proxy are in every install")
                .contains("install-cni", "listener-keeper", "node-proxy");
        assertThat(pod.getInitContainers().size() + pod.getContainers().size()).isEqualTo(containers.size());
        for (String name : containers) {
            SecurityContext sc = m.container(name).getSecurityContext();
            assertThat(sc).as(name).isNotNull();
            assertThat(sc.getPrivileged()).as(name + " privileged").isFalse();
            assertThat(sc.getAllowPrivilegeEscalation()).as(name + " allowPrivilegeEscalation").isFalse();
            assertThat(sc.getReadOnlyRootFilesystem()).as(name + " readOnlyRootFilesystem").isTrue();
            assertThat(sc.getCapabilities().getDrop()).as(name + " drops").containsExactly("ALL");
        }
        assertThat(m.container("node-proxy").getSecurityContext().getCapabilities().getAdd())
                .containsExactly("NET_ADMIN", "NET_RAW", "SYS_ADMIN", "SYS_PTRACE");
        for (String name : ROOT_WITHOUT_CAPABILITIES) {
            // install-cni writes the host's root-owned CNI dirs as their owner; the proxy trusts only a root peer on
            // the listener keeper's socket, in the host's root-owned run dir. Neither needs a capability.
            SecurityContext sc = m.container(name).getSecurityContext();
            assertThat(sc.getRunAsUser()).as(name + " runAsUser").isZero();
            assertThat(sc.getRunAsNonRoot()).as(name + " runAsNonRoot").isNotEqualTo(Boolean.TRUE);
            assertThat(sc.getCapabilities().getAdd()).as(name + " adds").isNullOrEmpty();
            assertThat(m.container(name).getRestartPolicy()).as(name + ": a native sidecar").isEqualTo("Always");
        }
        if (m.has("telemetry-agent")) {
            SecurityContext agent = m.container("telemetry-agent").getSecurityContext();
            assertThat(agent.getCapabilities().getAdd()).isNullOrEmpty();
            assertThat(agent.getRunAsNonRoot()).isTrue();
            assertThat(agent.getRunAsUser()).isPositive();
            // The proxy (root without CAP_DAC_OVERRIDE) reaches the agent's 0660 socket through the group fsGroup
            // gives both: the emptyDir's group and a supplementary group of every container.
            assertThat(pod.getSecurityContext().getFsGroup()).isEqualTo(agent.getRunAsGroup());
        } else {
            // No agent container: only because the proxy hosts it (the one-process overlay).
            assertThat(m.container("node-proxy").getArgs()).contains("--agent-in-process");
        }
        if (m.has("telemetry-agent")) {
            assertThat(m.volume("telemetry").getEmptyDir()).isNotNull();
        }
        assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    }

    @ParameterizedTest
    @MethodSource("installs")
    void hostPathsOnlyWhereNeededAndReadOnlyWherePossible(Manifests m) {
        Map<String, String> hostPaths = m.pod().getVolumes().stream().filter(v -> v.getHostPath() != null)
                .collect(Collectors.toMap(Volume::getName, v -> v.getHostPath().getPath(), (a, b) -> a, TreeMap::new));
        assertThat(hostPaths).containsExactlyInAnyOrderEntriesOf(Map.of("cni-bin", "/opt/cni/bin",
                "cni-conf", "/etc/cni/net.d", "run", "/var/run/nodemesh", "netns", "/var/run/netns",
                "host-proc", "/proc", "host-cgroup", "/sys/fs/cgroup", "host-bpffs", "/sys/fs/bpf"));
        if (m.has("telemetry-agent")) {
            assertThat(mounts(m.container("telemetry-agent"))).doesNotContainAnyElementsOf(hostPaths.keySet());
        }
        assertThat(mounts(m.container("install-cni"))).containsExactlyInAnyOrder("cni-bin", "cni-conf", "tmp");
        // The keeper's socket, in the host's run dir (writable: it makes the socket there), and nothing else.
        assertThat(mounts(m.container("listener-keeper"))).containsExactly("run");
        assertThat(mount(m.container("listener-keeper"), "run").getReadOnly()).isNotEqualTo(true);
        VolumeMount netns = mount(m.container("node-proxy"), "netns");
        assertThat(netns.getMountPropagation()).isEqualTo("HostToContainer");
        assertThat(netns.getReadOnly()).isTrue();
        assertThat(mount(m.container("node-proxy"), "host-proc").getReadOnly()).isTrue();
        assertThat(mount(m.container("node-proxy"), "host-cgroup").getReadOnly()).isTrue();
        VolumeMount bpffs = mount(m.container("node-proxy"), "host-bpffs");
        assertThat(bpffs.getReadOnly()).as("pins are written there").isNotEqualTo(true);
        assertThat(bpffs.getMountPropagation()).isEqualTo("HostToContainer");
        assertThat(mount(m.container("node-proxy"), "mesh").getReadOnly()).isTrue();
        assertThat(mount(m.container("node-proxy"), "mesh-ca").getReadOnly()).isTrue();
        assertThat(m.volume("mesh-ca").getSecret().getOptional()).as("the pod waits for the mesh CA").isNotEqualTo(true);
    }

    @ParameterizedTest
    @MethodSource("installs")
    void rbacReadsExactlyWhatTheSourceWatches(Manifests m) {
        ClusterRole role = m.one(ClusterRole.class);
        Map<String, List<String>> granted = new TreeMap<>();
        for (PolicyRule rule : role.getRules()) {
            assertThat(rule.getResourceNames()).isNullOrEmpty();
            assertThat(rule.getNonResourceURLs()).isNullOrEmpty();
            for (String group : rule.getApiGroups()) {
                for (String resource : rule.getResources()) {
                    assertThat(granted.put(group + "/" + resource, List.copyOf(rule.getVerbs())))
                            .as("granted twice: " + group + "/" + resource).isNull();
                }
            }
        }
        // KubernetesSource's kinds: list, then watch; its watchdog lists. Nothing is read one by one or written.
        List<String> listWatch = List.of("list", "watch");
        assertThat(granted).containsExactlyInAnyOrderEntriesOf(Map.of(
                "/namespaces", listWatch, "/pods", listWatch, "/services", listWatch,
                "discovery.k8s.io/endpointslices", listWatch,
                io.nodemesh.discovery.kubernetes.PolicyResources.GROUP + "/"
                        + io.nodemesh.discovery.kubernetes.PolicyResources.PLURAL, listWatch));
        ClusterRoleBinding binding = m.one(ClusterRoleBinding.class);
        assertThat(binding.getRoleRef().getName()).isEqualTo(role.getMetadata().getName());
        assertThat(binding.getSubjects()).singleElement().satisfies(s -> {
            assertThat(s.getKind()).isEqualTo("ServiceAccount");
            assertThat(s.getName()).isEqualTo(m.pod().getServiceAccountName());
            assertThat(s.getNamespace()).isEqualTo("nodemesh-system");
        });
    }

    @ParameterizedTest
    @MethodSource("installs")
    void runsOnEveryNodeAsNodeCriticalAndRollsOneNodeAtATime(Manifests m) {
        PodSpec pod = m.pod();
        assertThat(pod.getPriorityClassName()).isEqualTo("system-node-critical");
        assertThat(pod.getTolerations()).singleElement().satisfies(t -> {
            assertThat(t.getOperator()).isEqualTo("Exists");
            assertThat(t.getKey()).isNull();
            assertThat(t.getEffect()).isNull();
        });
        DaemonSetUpdateStrategy update = m.one(DaemonSet.class).getSpec().getUpdateStrategy();
        assertThat(update.getType()).isEqualTo("RollingUpdate");
        assertThat(update.getRollingUpdate().getMaxUnavailable().getIntVal()).isEqualTo(1);
        // A new pod beside the old one on each node: the new proxy takes the old one's sockets over (docs/upgrade.md).
        assertThat(update.getRollingUpdate().getMaxSurge().getIntVal()).isEqualTo(1);
        Map<String, String> annotations = m.one(DaemonSet.class).getSpec().getTemplate().getMetadata().getAnnotations();
        assertThat(annotations).containsEntry("prometheus.io/scrape", "true").containsEntry("prometheus.io/path", "/metrics");
        assertThat(m.container("node-proxy").getReadinessProbe().getHttpGet().getPath()).isEqualTo("/healthz/ready");
        if (m.has("telemetry-agent")) {
            assertThat(m.container("telemetry-agent").getLivenessProbe().getHttpGet().getPath()).isEqualTo("/healthz");
        }
    }

    @ParameterizedTest
    @MethodSource("installs")
    void theGracePeriodCoversTheDrain(Manifests m, @TempDir Path dir) throws IOException, ConfigException {
        Duration drain = StandaloneConfig.load(meshFile(m, dir)).proxy().drainTimeout();
        // NodeProxy.close waits drainTimeout + 5 s for the drain; then telemetry flushes and the JVM exits.
        assertThat(Duration.ofSeconds(m.pod().getTerminationGracePeriodSeconds()))
                .isGreaterThanOrEqualTo(drain.plusSeconds(5).plusSeconds(10));
    }

    @ParameterizedTest
    @MethodSource("installs")
    void memoryLimitsAboveWhatTheJvmFlagsLetTheDaemonsReach(Manifests m) throws IOException {
        Properties flags = jvmFlags();
        List<String> daemon = Arrays.asList(flags.getProperty("jvm.flags.daemon").split("\\s+"));
        long reach = bytes(daemon, "-Xmx") + bytes(daemon, "-XX:MaxDirectMemorySize=")
                + bytes(daemon, "-XX:MaxMetaspaceSize=") + bytes(daemon, "-XX:ReservedCodeCacheSize=");
        for (String name : Stream.of("node-proxy", "telemetry-agent").filter(m::has).toList()) {
            Map<String, Quantity> limits = m.container(name).getResources().getLimits();
            Map<String, Quantity> requests = m.container(name).getResources().getRequests();
            long limit = Quantity.getAmountInBytes(limits.get("memory")).longValueExact();
            long request = Quantity.getAmountInBytes(requests.get("memory")).longValueExact();
            // Threads, the JVM itself and the native libraries need about 60 MiB beyond the caps (RESULTS.md, growth).
            assertThat(limit).as(name + " memory limit").isGreaterThanOrEqualTo(reach + (60L << 20));
            // RESULTS.md: the proxy's peak RSS is 123 MiB (129 with mutual TLS), the agent's up to 130 MiB.
            assertThat(request).as(name + " memory request").isGreaterThanOrEqualTo(128L << 20).isLessThan(limit);
            assertThat(requests).as(name).containsKey("cpu");
        }
    }

    @ParameterizedTest
    @MethodSource("installs")
    void theListenerKeeperIsSmallAndBounded(Manifests m) {
        // A C program of about 1 MiB (DaemonSetRunsTest holds it to its request): no JVM, so no JVM-sized numbers.
        Map<String, Quantity> limits = m.container("listener-keeper").getResources().getLimits();
        Map<String, Quantity> requests = m.container("listener-keeper").getResources().getRequests();
        long limit = Quantity.getAmountInBytes(limits.get("memory")).longValueExact();
        long request = Quantity.getAmountInBytes(requests.get("memory")).longValueExact();
        assertThat(request).isPositive().isLessThanOrEqualTo(16L << 20).isLessThan(limit);
        assertThat(limit).isLessThanOrEqualTo(64L << 20);
        assertThat(requests).containsKey("cpu");
    }

    @Test
    void noJvmFlagInTheManifestsTheImagesLauncherAddsThem() throws IOException {
        Properties flags = jvmFlags();
        List<String> words = flags.stringPropertyNames().stream().filter(k -> k.startsWith("jvm.flags"))
                .flatMap(k -> Arrays.stream(flags.getProperty(k).split("\\s+"))).toList();
        for (Path dir : RenderTest.directories().toList()) {
            String yaml = Manifests.json(Manifests.render(dir).objects());
            for (String word : words) {
                assertThat(yaml).as(dir + " holds the JVM flag " + word).doesNotContain(word);
            }
            assertThat(yaml).doesNotContain("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "NODEMESH_JAVA_OPTS",
                    "MALLOC_ARENA_MAX", "-XX:", "-Xm");
            Manifests m = Manifests.render(dir);
            for (String name : CONTAINERS.stream().filter(m::has).toList()) {
                // The image's launcher, directly or as the command install-cni's watcher runs; or the listener
                // keeper, a C program (no JVM at all).
                List<String> command = m.container(name).getCommand();
                List<String> args = m.container(name).getArgs();
                assertThat(command.equals(List.of("nodemesh")) || command.equals(List.of("nodemesh-cni-watch"))
                        && args.get(args.indexOf("--") + 1).equals("nodemesh")
                        || command.equals(List.of("nodemesh-keeper")) && !args.contains("nodemesh"))
                        .as(name + ": " + command + " " + args).isTrue();
            }
        }
    }

    /** The ConfigMap's mesh.yaml in a file, as the proxy reads it. */
    static Path meshFile(Manifests m, Path dir) throws IOException {
        ConfigMap config = m.one(ConfigMap.class);
        assertThat(config.getData()).containsOnlyKeys("mesh.yaml");
        return Files.writeString(dir.resolve("mesh.yaml"), config.getData().get("mesh.yaml"));
    }

    private static Properties jvmFlags() throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(Manifests.repository("jvm-flags.properties"))) {
            p.load(r);
        }
        return p;
    }

    private static long bytes(List<String> flags, String prefix) {
        String value = flags.stream().filter(f -> f.startsWith(prefix)).findFirst()
                .orElseThrow(() -> new AssertionError("jvm.flags.daemon has no " + prefix)).substring(prefix.length());
        long n = Long.parseLong(value.substring(0, value.length() - 1));
        return switch (Character.toLowerCase(value.charAt(value.length() - 1))) {
            case 'k' -> n << 10;
            case 'm' -> n << 20;
            case 'g' -> n << 30;
            default -> throw new AssertionError(prefix + value + ": no unit");
        };
    }

    private static List<String> mounts(Container c) {
        return c.getVolumeMounts().stream().map(VolumeMount::getName).toList();
    }

    static VolumeMount mount(Container c, String volume) {
        return c.getVolumeMounts().stream().filter(v -> v.getName().equals(volume)).findFirst()
                .orElseThrow(() -> new AssertionError(c.getName() + " does not mount " + volume));
    }
}
