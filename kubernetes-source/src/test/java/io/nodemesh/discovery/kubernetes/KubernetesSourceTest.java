package io.nodemesh.discovery.kubernetes;

import static io.nodemesh.discovery.kubernetes.Resources.endpoint;
import static io.nodemesh.discovery.kubernetes.Resources.namespace;
import static io.nodemesh.discovery.kubernetes.Resources.pod;
import static io.nodemesh.discovery.kubernetes.Resources.service;
import static io.nodemesh.discovery.kubernetes.Resources.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.discovery.Enrolment;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceTarget;
import io.nodemesh.proxy.discovery.SourceStatus;
import io.nodemesh.proxy.policy.AuthorizationPolicy;
import io.nodemesh.proxy.policy.Authorizer;
import io.nodemesh.proxy.policy.Peer;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes source against fabric8's API mock in CRUD mode: what the source's watches see reaches the snapshots
 * the proxy follows, debounced, and survives the API's connections being cut or going silent.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class KubernetesSourceTest {

    private static final String NODE = "node-a";
    private static final InetAddress VIP = InetAddress.ofLiteral("10.96.0.10");
    private static final ResourceDefinitionContext POLICIES = new ResourceDefinitionContext.Builder()
            .withGroup(PolicyResources.GROUP).withVersion(PolicyResources.VERSION).withKind(PolicyResources.KIND)
            .withPlural(PolicyResources.PLURAL).withNamespaced(true).build();

    private MockApi api;
    private KubernetesClient client;
    private KubernetesSource source;
    private final ScheduledExecutorService control = Executors.newSingleThreadScheduledExecutor();
    private final AtomicReference<MeshSnapshot> latest = new AtomicReference<>();
    private final AtomicInteger applied = new AtomicInteger();

    @BeforeEach
    void mock() throws Exception {
        api = new MockApi();
        client = api.client();
    }

    @AfterEach
    void close() throws Exception {
        if (source != null) {
            source.close();
        }
        control.shutdownNow();
        client.close();
        api.close();
    }

    @Test
    void theFirstSyncHoldsTheNamespacesPodsServicesAndEndpoints() throws Exception {
        create(namespace("shop", true));
        Pod web = create(pod("shop", "web", NODE, "10.1.0.5").build());
        create(pod("shop", "api", "node-b", "10.2.0.5").build());
        create(service("shop", "web", VIP.getHostAddress(), 80));
        create(slice("shop", "web-1", "web", 8080, endpoint("10.1.0.5", "shop", "web", NODE, true),
                endpoint("10.2.0.5", "shop", "api", "node-b", true)));

        MeshSnapshot s = start(api.source(NODE));

        assertThat(s.namespaces().get("shop").enrolled()).isTrue();
        PodSpec spec = s.pods().get("shop/web");
        assertThat(spec.capture()).isTrue();
        assertThat(spec.serviceAccount()).isEqualTo("sa-web");
        assertThat(spec.ips()).containsExactly(InetAddress.ofLiteral("10.1.0.5"));
        assertThat(s.services().get("shop/web").vips()).containsExactly(VIP);
        // The named target port 'http' resolved by the slice's port of that name.
        assertThat(backends(s)).containsExactly("10.1.0.5:8080", "10.2.0.5:8080");
        // The other node's pod: known from its endpoint, meshed, not captured here.
        assertThat(s.pods().get("shop/api").capture()).isFalse();
        assertThat(s.pods().get("shop/api").node()).isEqualTo("node-b");
        assertThat(source.status().lastError()).isNull();
        assertThat(web.getMetadata().getUid()).isNotNull();

        // What `nodemesh status` shows under the source: each kind, its objects, its watch (the mock sends every
        // node's pods for this node's: the source drops the other node's pod when it builds, not when it caches).
        List<String> watching = List.of("namespaces: 1 object(s), watching",
                "pods of node node-a: 2 object(s), watching", "pods of all nodes: 2 object(s), watching",
                "services: 1 object(s), watching", "endpointslices: 1 object(s), watching",
                "nodemeshauthorizationpolicies.nodemesh.io: 0 object(s), watching");
        awaitSourceStatus("every watch open", status -> status.details().equals(watching));
    }

    @Test
    void inputTheModelCannotTakeIsLeftOutAndShownInTheStatus() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        create(service("shop", "clash", "10.1.0.5", 80));
        MeshSnapshot s = start(api.source(NODE));
        assertThat(s.pods()).containsOnlyKeys("shop/web");
        assertThat(s.services()).isEmpty();
        assertThat(source.status().lastError()).isEqualTo("1 object(s) left out, first: service shop/clash: "
                + "10.1.0.5 is the address of pod shop/web: left out");

        api.admin.services().inNamespace("shop").withName("clash").delete();
        create(service("shop", "web", VIP.getHostAddress(), 80));
        awaitSnapshot("the good service", m -> m.services().containsKey("shop/web"));
        awaitStatus("nothing left out", e -> e == null);
    }

    @Test
    void authorizationPoliciesComeFromTheCustomResourceAndOneThatCannotBeEnforcedIsEnforcedClosed() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        policy("shop", "no-dev", Map.of("action", "DENY", "selector", Map.of("matchLabels", Map.of("app", "web")),
                "rules", List.of(Map.of("from", List.of(Map.of("source", Map.of("namespaces", List.of("dev"))))))));
        MeshSnapshot s = start(api.source(NODE));
        assertThat(s.policies()).singleElement().satisfies(p -> {
            assertThat(p.key()).isEqualTo("shop/no-dev");
            assertThat(p.action()).isEqualTo(AuthorizationPolicy.Action.DENY);
            assertThat(p.selector()).isEqualTo(Map.of("app", "web"));
            assertThat(p.rules().getFirst().from().getFirst().namespaces()).containsExactly("dev");
        });
        assertThat(source.status().lastError()).isNull();

        // A DENY on a path is an L7 rule: written as it is it would deny nothing here, so it denies everything.
        policy("shop", "no-admin-path", Map.of("action", "DENY",
                "rules", List.of(Map.of("to", List.of(Map.of("operation", Map.of("paths", List.of("/admin"))))))));
        MeshSnapshot closed = awaitSnapshot("the L7 policy", m -> m.policies().size() == 2);
        AuthorizationPolicy denyAll = closed.policies().stream().filter(p -> p.name().equals("no-admin-path"))
                .findFirst().orElseThrow();
        PodSpec web = closed.pods().get("shop/web");
        assertThat(Authorizer.decide(closed, web, new Peer(null, InetAddress.ofLiteral("10.9.9.9"), 80)).reason())
                .isEqualTo("denied by policy shop/no-admin-path (DENY)");
        assertThat(denyAll.rules()).hasSize(1);
        awaitStatus("the refusal reported", e -> e != null && e.contains("NodemeshAuthorizationPolicy "
                + "shop/no-admin-path: spec.rules[0].to[0].operation.paths: cannot be enforced at L4")
                && e.contains("enforced closed: it denies every connection to the workloads it selects"));

        api.admin.genericKubernetesResources(POLICIES).inNamespace("shop").withName("no-admin-path")
                .delete();
        awaitSnapshot("the L7 policy gone", m -> m.policies().size() == 1);
        awaitStatus("nothing left out", e -> e == null);
    }

    private void policy(String namespace, String name, Map<String, Object> spec) {
        GenericKubernetesResource r = new GenericKubernetesResource();
        r.setApiVersion("nodemesh.io/v1alpha1");
        r.setKind("NodemeshAuthorizationPolicy");
        r.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withNamespace(namespace).withName(name)
                .build());
        r.setAdditionalProperty("spec", spec);
        api.admin.genericKubernetesResources(POLICIES).inNamespace(namespace).resource(r).create();
    }

    @Test
    void relabellingTheNamespaceCapturesAndReleasesItsPods() throws Exception {
        create(namespace("shop", false));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        MeshSnapshot s = start(api.source(NODE));
        assertThat(s.pods().get("shop/web").capture()).isFalse();

        label("shop", true);
        awaitSnapshot("captured after the label", n -> n.pods().get("shop/web").capture());
        label("shop", false);
        awaitSnapshot("released after the label went", n -> !n.pods().get("shop/web").capture());
    }

    @Test
    void aPodOptsOutByItsAnnotationAndAHostNetworkPodNeverCounts() throws Exception {
        create(namespace("shop", true));
        Pod web = create(pod("shop", "web", NODE, "10.1.0.5").build());
        create(pod("shop", "host", NODE, "192.168.0.1").editSpec().withHostNetwork(true).endSpec().build());
        MeshSnapshot s = start(api.source(NODE));
        assertThat(s.pods()).containsOnlyKeys("shop/web");
        assertThat(s.pods().get("shop/web").capture()).isTrue();

        api.admin.resource(Resources.optedOut(web)).update();
        awaitSnapshot("opted out", n -> !n.pods().get("shop/web").meshed());
        assertThat(latest.get().pods()).doesNotContainKey("shop/host");
    }

    @Test
    void anotherNodesPodIsNeverCapturedHereThoughTheMockSendsIt() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "remote", "node-b", "10.2.0.5").build());
        // The mock here sends every node's pods whatever the field selector the source asks with (see MockApi).
        assertThat(client.pods().inAnyNamespace().withField("spec.nodeName", NODE).list().getItems())
                .extracting(p -> p.getMetadata().getName()).contains("remote");

        // Known from the watch on every node's pods: a meshed pod of node-b with its identity, never captured here.
        MeshSnapshot s = start(api.source(NODE));
        PodSpec remote = s.pods().get("shop/remote");
        assertThat(remote.node()).isEqualTo("node-b");
        assertThat(remote.serviceAccount()).isEqualTo("sa-remote");
        assertThat(remote.meshed()).isTrue();
        assertThat(remote.capture()).isFalse();
        assertThat(remote.netns()).isNull();

        // Behind a service's endpoint it is the same pod: routed to, never captured here.
        create(service("shop", "web", VIP.getHostAddress(), 80));
        create(slice("shop", "web-1", "web", 8080, endpoint("10.2.0.5", "shop", "remote", "node-b", true)));
        MeshSnapshot n = awaitSnapshot("the endpoint", m -> m.services().containsKey("shop/web"));
        assertThat(n.pods().get("shop/remote")).isEqualTo(remote);
        assertThat(n.pods().values()).noneMatch(PodSpec::capture);
    }

    @Test
    void anEndpointTurningUnreadyStopsBeingAReadyBackendInTheNextSnapshot() throws Exception {
        create(namespace("shop", true));
        create(service("shop", "web", VIP.getHostAddress(), 80));
        EndpointSlice slice = create(slice("shop", "web-1", "web", 8080,
                endpoint("10.2.0.5", "shop", "a", "node-b", true), endpoint("10.2.0.6", "shop", "b", "node-b", true)));
        MeshSnapshot s = start(api.source(NODE));
        assertThat(backends(s)).containsExactly("10.2.0.5:8080", "10.2.0.6:8080");

        slice.getEndpoints().get(1).getConditions().setReady(false);
        api.admin.resource(slice).update();
        MeshSnapshot n = awaitSnapshot("b unready", m -> m.services().get("shop/web").readyEndpoints() == 1);
        assertThat(backends(n)).containsExactly("10.2.0.5:8080");
        assertThat(n.services().get("shop/web").endpoints()).hasSize(2);
    }

    @Test
    void aBurstOfAThousandPodEventsGivesAHandfulOfSnapshots() throws Exception {
        create(namespace("shop", true));
        // The watches' liveness at the source's defaults (pings every 30 s, checked against a list every 2 min), not
        // the other tests' 500 ms and 1 s: the mock sends a watch's events one at a time, so in a burst its watches lag
        // seconds behind, and a source that takes that for a deaf watch drops it and lists everything again. The mock
        // (8.0.0) then blocked its own event loop for 30 s, every request with it (MockApi now takes a watch's end off
        // that loop): two CI runs of 2026-12-07 timed out so, 776 and 802 pods in, the second's log showing the source's
        // watch check finding the pods watch "behind the API" just before the stall. This test is about the debounce;
        // the watch checks have their own tests.
        start(api.source(NODE).ping(Duration.ofSeconds(30)).watchCheck(Duration.ofMinutes(2))
                .debounce(Duration.ofMillis(100), Duration.ofSeconds(1)));
        int before = applied.get();

        long t0 = System.nanoTime();
        // One after the other, so that the mock's sender is not left further behind by creates sent two at a time.
        IntStream.range(0, 1000).forEach(i -> create(pod("shop", "p" + i, NODE,
                "10.1." + (i / 250) + "." + (i % 250 + 1)).build()));
        double burstSeconds = (System.nanoTime() - t0) / 1e9;
        awaitSnapshot("all 1000 pods", m -> m.pods().size() == 1000);
        Thread.sleep(500); // anything still scheduled has run
        int snapshots = applied.get() - before;
        System.out.printf("1000 pod creations in %.1f s gave %d snapshots%n", burstSeconds, snapshots);
        // One per second (the debounce's maximum) while events keep coming, one more for each lull of 100 ms in the
        // burst (a loaded machine has some: 7 snapshots in 6.6 s, 13 in 8.0 s at load 10 on 2 cores): a handful,
        // where one per event would be a thousand.
        assertThat(snapshots).isBetween(1, 20);
    }

    @Test
    void watchesCutMidRunAreReestablishedAndTheSnapshotCatchesUp() throws Exception {
        create(namespace("shop", true));
        Pod gone = create(pod("shop", "gone", NODE, "10.1.0.4").build());
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        start(api.source(NODE).watchCheck(Duration.ofMillis(500)));

        // The API server goes down and comes back having compacted its history: every connection is closed, and a
        // watch resumed from before now is answered 410 Gone, so fabric8 must list again. Meanwhile: an addition, a
        // deletion (seen only by listing again), a new namespace.
        api.expireWatchesBefore();
        assertThat(api.forwarder.cut()).as("connections cut").isPositive();
        create(pod("shop", "new", NODE, "10.1.0.6").build());
        api.admin.resource(gone).delete();
        create(namespace("later", true));
        MeshSnapshot n = awaitSnapshot("caught up", m -> m.pods().containsKey("shop/new")
                && !m.pods().containsKey("shop/gone") && m.namespaces().containsKey("later"));
        assertThat(n.pods()).containsOnlyKeys("shop/web", "shop/new");

        // And again: the re-established watches are cut as well, and the next change still arrives.
        api.expireWatchesBefore();
        assertThat(api.forwarder.cut()).isPositive();
        label("later", false);
        awaitSnapshot("relabelled after the second cut", m -> !m.namespaces().get("later").enrolled());
        assertThat(source.status().lastError()).isNull();
    }

    @Test
    void anUpdateOfNothingTheMeshReadsRebuildsNothing() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        start(api.source(NODE));
        String kind = "pods of node " + NODE;
        long before = source.changes(kind);

        // What the kubelet writes all day: the pod's conditions. Nothing the mesh reads.
        api.admin.pods().inNamespace("shop").withName("web").edit(p -> new PodBuilder(p).editStatus()
                .addNewCondition().withType("Ready").withStatus("True").endCondition().endStatus().build());
        // Then what it reads: a label.
        api.admin.pods().inNamespace("shop").withName("web").edit(p -> new PodBuilder(p).editMetadata()
                .addToLabels("version", "2").endMetadata().build());
        awaitSnapshot("the new label", m -> "2".equals(m.pods().get("shop/web").labels().get("version")));
        // One change counted, the label's (none when the mock left this watch unopened until after both: the list
        // check brought the label then).
        assertThat(source.changes(kind) - before).isLessThanOrEqualTo(1);
    }

    @Test
    void watchesThatGoSilentWithoutBreakingAreDroppedByTheirPingsAndTheSnapshotCatchesUp() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        // The check against a direct list every 2 minutes (the default) cannot be what notices here.
        start(api.source(NODE).watchCheck(Duration.ofMinutes(2)));

        // Every watch's connection goes dark: no close, no reset, nothing more in either direction.
        assertThat(api.forwarder.stall()).as("connections stalled").isPositive();
        create(pod("shop", "new", NODE, "10.1.0.6").build());
        awaitSnapshot("caught up: each watch missed its pongs (pinged every 500 ms), was dropped and opened again",
                m -> m.pods().containsKey("shop/new"));
        assertThat(source.status().lastError()).isNull();
    }

    @Test
    void startFailsNamingWhatDidNotSyncWhenTheApiIsUnreachable() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort();
        }
        KubernetesSource unreachable = MockApi.sourceTo(NODE, closedPort).syncTimeout(Duration.ofSeconds(3)).build();
        assertThatThrownBy(unreachable::start).isInstanceOf(ConfigException.class)
                .hasMessageContaining("Kubernetes API http://127.0.0.1:" + closedPort)
                .hasMessageContaining("not synced within 3000 ms: namespaces, pods of node node-a, pods of all "
                        + "nodes, services, endpointslices, nodemeshauthorizationpolicies.nodemesh.io")
                .hasMessageContaining("last error:");
    }

    @Test
    void inAPodTheServiceAccountsTokenAndTheApiServersAddressFromTheEnvironmentAreUsed(@TempDir Path dir)
            throws Exception {
        try (MockApi cluster = new MockApi(true)) {
            cluster.admin.resource(namespace("shop", true)).create();
            // What a pod has: KUBERNETES_SERVICE_HOST/PORT, and the service account's token and the cluster's CA.
            Files.writeString(dir.resolve("token"), "in-cluster-token\n");
            Files.copy(cluster.certificate(), dir.resolve("ca.crt"));
            Map<String, String> env = Map.of("KUBERNETES_SERVICE_HOST", "127.0.0.1",
                    "KUBERNETES_SERVICE_PORT", String.valueOf(cluster.server.getPort()));
            source = KubernetesSource.builder(NODE).api(ApiConfig.inCluster(env, dir)).build();
            MeshSnapshot s = source.start();
            assertThat(s.namespaces()).containsKey("shop");
            assertThat(source.describe()).contains("https://127.0.0.1:" + cluster.server.getPort());
            assertThat(cluster.authorizations()).as("the test's own client says Bearer secret")
                    .containsExactlyInAnyOrder("Bearer in-cluster-token", "Bearer secret");
            source.close();

            // A CA that did not sign the server's certificate: nothing is believed, and the start says why.
            Files.copy(MockApi.otherCertificate(dir), dir.resolve("ca.crt"), StandardCopyOption.REPLACE_EXISTING);
            source = KubernetesSource.builder(NODE).api(ApiConfig.inCluster(env, dir))
                    .syncTimeout(Duration.ofSeconds(2)).build();
            assertThatThrownBy(source::start).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("not synced within 2000 ms").hasMessageContaining("last error:");
        }
    }

    @Test
    void aKubeconfigFileAndASettingsFileAreRead() throws Exception {
        create(namespace("shop", true));
        Path dir = Files.createTempDirectory("nodemesh-kube");
        Path kubeconfig = Files.writeString(dir.resolve("kubeconfig"), """
                apiVersion: v1
                kind: Config
                clusters:
                - name: mock
                  cluster: {server: "http://127.0.0.1:%d"}
                users:
                - name: proxy
                  user: {token: secret}
                contexts:
                - name: mock
                  context: {cluster: mock, user: proxy}
                current-context: mock
                """.formatted(api.forwarder.port()));
        Path settings = Files.writeString(dir.resolve("settings.yaml"),
                "proxy:\n  outboundPort: 16001\n  workers: 3\n");
        try {
            MeshSnapshot s = start(KubernetesSource.builder(NODE).kubeconfig(kubeconfig).settingsFile(settings));
            assertThat(s.namespaces()).containsKey("shop");
            assertThat(s.proxy().outboundPort()).isEqualTo(16001);
            assertThat(source.boot(BootSettings.defaults()).workers()).isEqualTo(3);
            assertThat(source.describe()).contains("127.0.0.1:" + api.forwarder.port()).contains(NODE);

            Files.writeString(settings, "proxy:\n  workers: 3\npods:\n  - {name: x, netns: /var/run/netns/x}\n");
            assertThatThrownBy(() -> KubernetesSource.builder(NODE).kubeconfig(kubeconfig).settingsFile(settings)
                    .build().start()).isInstanceOf(ConfigException.class)
                    .hasMessageContaining("only the proxy section is read");
        } finally {
            Files.delete(kubeconfig);
            Files.delete(settings);
            Files.delete(dir);
        }
    }

    @Test
    void aRunningPodsNamespaceIsLookedForUntilFound() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        Path netns = Path.of("/var/run/netns/web");
        AtomicInteger looks = new AtomicInteger();
        List<List<InetAddress>> asked = new ArrayList<>();
        NetnsFinder appearsOnTheThirdLook = addresses -> {
            asked.add(List.copyOf(addresses));
            return looks.incrementAndGet() < 3 ? Map.of() : Map.of(InetAddress.ofLiteral("10.1.0.5"), netns);
        };
        MeshSnapshot s = start(api.source(NODE).netnsFinder(appearsOnTheThirdLook)
                .netnsRetry(Duration.ofMillis(200)));
        assertThat(s.pods().get("shop/web").netns()).isNull();
        assertThat(s.pods().get("shop/web").capture()).isTrue();

        MeshSnapshot n = awaitSnapshot("found", m -> netns.equals(m.pods().get("shop/web").netns()));
        assertThat(asked).first().isEqualTo(List.of(InetAddress.ofLiteral("10.1.0.5")));
        int after = looks.get();
        Thread.sleep(600);
        assertThat(looks.get()).as("no more looks once found").isEqualTo(after);
        assertThat(n.pods().get("shop/web").capture()).isTrue();
    }

    @Test
    void theFirstSnapshotTakesItsNamespacesFromTheLookAheadAndLaterOnesFromTheFinder() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        Path early = Path.of("/var/run/netns/web-seen-ahead");
        AtomicInteger aheads = new AtomicInteger();
        AtomicInteger finds = new AtomicInteger();
        NetnsFinder finder = new NetnsFinder() {
            @Override
            public Map<InetAddress, Path> find(Collection<InetAddress> addresses) {
                finds.incrementAndGet();
                return Map.of();
            }

            @Override
            public NetnsFinder lookAhead() {
                aheads.incrementAndGet();
                return addresses -> Map.of(InetAddress.ofLiteral("10.1.0.5"), early);
            }
        };
        MeshSnapshot s = start(api.source(NODE).netnsFinder(finder));
        assertThat(s.pods().get("shop/web").netns()).isEqualTo(early);
        assertThat(aheads.get()).isOne();
        assertThat(finds.get()).isZero();

        // A pod started later is looked for by the finder itself.
        create(pod("shop", "api", NODE, "10.1.0.6").build());
        awaitSnapshot("api", m -> m.pods().containsKey("shop/api"));
        assertThat(finds.get()).isPositive();
        assertThat(aheads.get()).isOne();
    }

    @Test
    void aLookAheadThatFailsLeavesTheFirstSnapshotToTheFinder() throws Exception {
        create(namespace("shop", true));
        create(pod("shop", "web", NODE, "10.1.0.5").build());
        Path netns = Path.of("/var/run/netns/web");
        NetnsFinder finder = new NetnsFinder() {
            @Override
            public Map<InetAddress, Path> find(Collection<InetAddress> addresses) {
                return Map.of(InetAddress.ofLiteral("10.1.0.5"), netns);
            }

            @Override
            public NetnsFinder lookAhead() {
                throw new IllegalStateException("cannot list /proc");
            }
        };
        MeshSnapshot s = start(api.source(NODE).netnsFinder(finder));
        assertThat(s.pods().get("shop/web").netns()).isEqualTo(netns);
    }

    // ---- helpers ----

    private MeshSnapshot start(KubernetesSource.Builder builder) throws ConfigException {
        source = builder.build();
        MeshSnapshot first = source.start();
        source.follow(control, s -> {
            latest.set(s);
            applied.incrementAndGet();
        });
        return first;
    }

    private MeshSnapshot awaitSnapshot(String what, Predicate<MeshSnapshot> condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (true) {
            MeshSnapshot s = latest.get();
            if (s != null && condition.test(s)) {
                return s;
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for a snapshot with " + what + "; last: " + s
                        + "; status: " + source.status());
            }
            Thread.sleep(20);
        }
    }

    private void awaitStatus(String what, Predicate<String> lastError) throws InterruptedException {
        awaitSourceStatus(what, s -> lastError.test(s.lastError()));
    }

    private void awaitSourceStatus(String what, Predicate<SourceStatus> condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.test(source.status())) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what + "; status: " + source.status());
            }
            Thread.sleep(20);
        }
    }

    private void label(String namespace, boolean enrolled) {
        Namespace ns = api.admin.namespaces().withName(namespace).get();
        Namespace changed = new NamespaceBuilder(ns).editMetadata()
                .withLabels(enrolled ? Map.of(Enrolment.KEY, Enrolment.ENABLED) : Map.of()).endMetadata().build();
        api.admin.resource(changed).update();
    }

    /**
     * Creates {@code object} through the mock. On a loaded machine the mock can take longer than fabric8's client waits
     * (10 s); the client then sends the POST again, and when the first one went through after all, the retry is answered
     * 409. The tests create each name once, so a 409 can only be that retry: the object is there, as wanted, and is
     * read back (CI saw this in the burst, and after the watches were cut).
     */
    private <T extends HasMetadata> T create(T object) {
        try {
            return api.admin.resource(object).create();
        } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
                throw e;
            }
            return api.admin.resource(object).get();
        }
    }

    private static List<String> backends(MeshSnapshot s) {
        ServiceTarget target = s.serviceAt(VIP, 80);
        return target.backendList().stream().map(b -> b.address().getAddress().getHostAddress() + ":"
                + b.address().getPort()).toList();
    }
}
