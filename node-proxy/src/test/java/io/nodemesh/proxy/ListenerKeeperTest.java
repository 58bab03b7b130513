package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.SeqpacketSocket;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.topology.Netns;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The listener keeper (docs/upgrade.md, "A restart: the listener keeper"): {@code nodemesh-keeper} holds the captured
 * pods' listening sockets, so that while no proxy runs the pods' new connections wait in the accept queues instead of
 * being refused, and the next proxy takes them over from it.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class ListenerKeeperTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static KeeperProcess keeper() throws Exception {
        return mesh.own(KeeperProcess.start(mesh.dir().resolve("run/keeper.sock")));
    }

    private static UnaryOperator<NodeProxy.Builder> keptBy(KeeperProcess keeper) {
        return b -> b.keeperSocket(keeper.socket);
    }

    /** One exchange from {@code pod} with the echo server on port 7000 of {@code echo}, through the proxy. */
    private static void exchange(Netns pod, Netns echo) throws Exception {
        try (StreamingClient client = StreamingClient.connect(pod.executor(), new InetSocketAddress(echo.ipv4(), 7000),
                1, 64)) {
            client.exchange();
        }
    }

    /** The TCP ports listening in {@code pod}'s namespace, from {@code ss}. */
    private static String listening(Netns pod) throws Exception {
        return pod.exec("ss", "-Htln").stdout();
    }

    @Test
    void aRestartedProxyTakesThePodsListenersFromTheKeeperAndNoConnectionIsRefused() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        KeeperProcess keeper = keeper();
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, keptBy(keeper));
        keeper.awaitLine("holds the listeners");
        mesh.own(EchoServer.start(b, 7000));
        InetSocketAddress echo = new InetSocketAddress(b.ipv4(), 7000);
        ConnectionChurn churn = ConnectionChurn.start(a.executor(), echo, 200);
        Thread.sleep(500);

        long stopped = System.nanoTime();
        old.close(); // as on SIGTERM: it drains and closes its listeners; the keeper's copies listen on
        assertThat(listening(a)).as("the pod's outbound listener, held by the keeper alone").contains(":15001");
        Thread.sleep(300); // no proxy at all
        long gap = churn.ok() + churn.failed();
        TestNode next = mesh.startNode("next", config, keptBy(keeper));
        long restarted = System.nanoTime();
        keeper.awaitLine("takes over 1 pod(s)' listeners");
        Thread.sleep(500);
        churn.close();

        assertThat(churn.failed()).as("failed new connections (first: %s; when: %s)", churn.firstFailure(),
                churn.failureTimeline(stopped)).isZero();
        assertThat(churn.ok()).isGreaterThan(gap).isGreaterThan(150);
        PodCapture pod = next.proxy.pod("demo/a").orElseThrow();
        assertThat(pod.listening()).isTrue();
        assertThat(pod.rulesInherited()).as("the listeners came from the keeper, the rules were left alone").isTrue();
        System.out.printf("restart under the keeper: %d connections, none refused; no proxy for %d ms%n",
                churn.ok(), TimeUnit.NANOSECONDS.toMillis(restarted - stopped));
    }

    @Test
    void withoutTheKeeperTheSameRestartRefusesConnections() throws Exception {
        // The control for the test above: the same steps, no keeper.
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config);
        mesh.own(EchoServer.start(b, 7000));
        ConnectionChurn churn = ConnectionChurn.start(a.executor(), new InetSocketAddress(b.ipv4(), 7000), 200);
        Thread.sleep(500);
        old.close();
        assertThat(listening(a)).doesNotContain(":15001");
        Thread.sleep(300);
        mesh.startNode("next", config);
        Thread.sleep(500);
        churn.close();
        assertThat(churn.failed()).as("connections refused while no proxy listened").isPositive();
    }

    @Test
    void whatTheNextProxyDoesNotCaptureTheKeeperCloses() throws Exception {
        Netns a = mesh.pod("a");
        Netns c = mesh.pod("c");
        KeeperProcess keeper = keeper();
        TestNode old = mesh.start(mesh.config().capture(a, c), keptBy(keeper));
        old.close();
        assertThat(listening(c)).contains(":15001");

        // c went while no proxy ran
        TestNode next = mesh.startNode("next", mesh.config().capture(a), keptBy(keeper));
        keeper.awaitLine("takes over 2 pod(s)' listeners");
        keeper.awaitLine("pod demo/c: not kept by pid");
        assertThat(listening(c)).as("nobody listens for the pod no proxy captures").doesNotContain(":15001");
        assertThat(listening(a)).contains(":15001");
        assertThat(next.proxy.pod("demo/a").orElseThrow().rulesInherited()).isTrue();
    }

    @Test
    void aPodLetGoOrCapturedAgainIsLetGoByTheKeeperFirst() throws Exception {
        Netns a = mesh.pod("a");
        Netns c = mesh.pod("c");
        Netns b = mesh.pod("b");
        KeeperProcess keeper = keeper();
        TestNode node = mesh.start(mesh.config().capture(a, c), keptBy(keeper));
        mesh.own(EchoServer.start(b, 7000));

        node.rewrite(mesh.config().capture(a));
        await("c let go", () -> node.proxy.pod("demo/c").isEmpty());
        assertThat(listening(c)).as("the keeper let c's listeners go with the proxy").doesNotContain(":15001");

        // Every pod captured again (another rules backend): the new capture binds the same ports, which it could not
        // if the keeper still held the old sockets.
        node.rewrite(mesh.config().capture(a).rules("iptables"));
        await("a captured again", () -> node.proxy.pod("demo/a").map(PodCapture::listening).orElse(false)
                && node.proxy.pod("demo/a").orElseThrow().currentSettings().rules()
                        == io.nodemesh.proxy.config.RulesBackend.IPTABLES);
        exchange(a, b);
        node.close();
        assertThat(listening(a)).as("kept through the recapture").contains(":15001");
    }

    /**
     * An upgrade goes through the old proxy's handover socket, not the keeper: the new proxy holds with the keeper once
     * the old one has stopped holding, so that the restart after it takes the listeners from the keeper again.
     */
    @Test
    void afterAnUpgradeTheNewProxyHoldsAndItsRestartTakesTheListenersFromTheKeeper() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        KeeperProcess keeper = keeper();
        Path run = mesh.dir().resolve("run");
        UnaryOperator<NodeProxy.Builder> node = x -> x.keeperSocket(keeper.socket)
                .handoverSocket(run.resolve("handover.sock")).adminSocket(run.resolve("admin.sock"));
        MeshFile config = mesh.config().capture(a);
        TestNode old = mesh.start(config, node);
        keeper.awaitLine("holds the listeners");
        int from = keeper.lineCount();
        TestNode next = mesh.startNode("next", config, node);
        old.close();
        keeper.awaitLine("stopped holding", from);
        keeper.awaitLine("holds the listeners", from); // within 5 s of the old proxy's stop
        await("the new proxy kept pod a", () -> next.proxy.keeper().orElseThrow().keeps() == 1);

        next.close();
        int before = keeper.lineCount();
        TestNode third = mesh.startNode("third", config, node);
        keeper.awaitLine("takes over 1 pod(s)' listeners", before);
        assertThat(third.proxy.pod("demo/a").orElseThrow().rulesInherited()).isTrue();
        mesh.own(EchoServer.start(b, 7000));
        exchange(a, b);
    }

    /**
     * A pod whose namespace only the CNI plugin gave (standalone {@code netns: cni}): the keeper keeps the plugin's ADD
     * with its listeners, so the restarted proxy captures it at once, in the namespace it was captured in, instead of
     * waiting for an ADD the plugin will not make again; the plugin's DEL then releases it there.
     */
    @Test
    void aPodTheCniPluginHandedOverIsCapturedAgainAfterARestart() throws Exception {
        Netns h = mesh.pod("h");
        Netns b = mesh.pod("b");
        KeeperProcess keeper = keeper();
        Path run = mesh.dir().resolve("run");
        UnaryOperator<NodeProxy.Builder> node = x -> x.keeperSocket(keeper.socket).cniSocket(run.resolve("cni.sock"))
                .enrolmentFile(run.resolve("enrolment.json"));
        MeshFile config = mesh.config().entry("""
                  - name: h
                    namespace: demo
                    serviceAccount: h
                    netns: cni
                """);
        TestNode first = mesh.start(config, node);
        com.fasterxml.jackson.databind.JsonNode added = PluginCalls.withNamespace(run.resolve("cni.sock"),
                PluginCalls.request("ADD", "demo", "h", "sandbox-h", h), h);
        assertThat(added.path("ok").asBoolean()).as(added.toString()).isTrue();
        await("kept with the keeper", () -> first.proxy.keeper().orElseThrow().status().pods() == 1);
        first.close();

        TestNode second = mesh.startNode("second", config, node);
        PodCapture pod = second.proxy.pod("demo/h").orElseThrow();
        assertThat(pod.listening()).as("captured at once, its namespace from the keeper").isTrue();
        assertThat(pod.rulesInherited()).isTrue();
        mesh.own(EchoServer.start(b, 7000));
        exchange(h, b);
        com.fasterxml.jackson.databind.JsonNode deleted = PluginCalls.call(run.resolve("cni.sock"),
                PluginCalls.request("DEL", "demo", "h", "sandbox-h", null));
        assertThat(deleted.path("ok").asBoolean()).as(deleted.toString()).isTrue();
        await("released, and forgotten by the keeper", () -> second.proxy.keeper().orElseThrow().status().pods() == 0);
        await("its listeners gone", () -> {
            try {
                return !listening(h).contains(":15001");
            } catch (Exception e) {
                return false;
            }
        });
    }

    @Test
    void aSecondProxyCannotTakeTheListenersFromTheKeeperWhileOneHoldsThem() throws Exception {
        Netns a = mesh.pod("a");
        KeeperProcess keeper = keeper();
        TestNode old = mesh.start(mesh.config().capture(a), keptBy(keeper));
        keeper.awaitLine("holds the listeners");
        assertThatThrownBy(() -> mesh.startNode("next", mesh.config().capture(a), keptBy(keeper)))
                .hasMessageContaining("cannot take the listeners over from the listener keeper at " + keeper.socket)
                .hasMessageContaining("holds these listeners: take over from it");
        assertThat(old.proxy.pod("demo/a").orElseThrow().listening()).isTrue();
    }

    @Test
    void aKeeperThatRestartsIsGivenEveryPodAgain() throws Exception {
        Netns a = mesh.pod("a");
        KeeperProcess first = keeper();
        TestNode old = mesh.start(mesh.config().capture(a), keptBy(first));
        assertThat(first.stop()).isZero();
        assertThat(first.socket).as("a stopped keeper removes its socket").doesNotExist();

        KeeperProcess second = keeper();
        second.awaitLine("holds the listeners"); // the proxy looks again every 5 s
        old.close();
        mesh.startNode("next", mesh.config().capture(a), keptBy(second));
        second.awaitLine("takes over 1 pod(s)' listeners");
    }

    /**
     * What the keeper holds but this proxy cannot take (here a pod message of another protocol version, as a proxy of
     * another release might have kept) does not keep the proxy down: the keeper is told to let go of everything, and
     * the pods are captured anew.
     */
    @Test
    void whatTheKeeperHoldsButTheProxyCannotTakeIsLetGoAndThePodsAreCapturedAnew() throws Exception {
        Netns a = mesh.pod("a");
        KeeperProcess keeper = keeper();
        assertThat(keptByHand(keeper, "demo/a", OTHER_VERSION.formatted("demo/a"))).isEqualTo("ok 0");
        keeper.awaitLine("stopped holding");

        TestNode node = mesh.start(mesh.config().capture(a), keptBy(keeper));
        keeper.awaitLine("pod demo/a: not kept by pid");
        PodCapture pod = node.proxy.pod("demo/a").orElseThrow();
        assertThat(pod.listening()).isTrue();
        assertThat(pod.rulesInherited()).as("captured anew").isFalse();
        await("the proxy holds with the keeper", () -> node.proxy.keeper().orElseThrow().status().pods() == 1);
    }

    /** Messages that stop being takeable halfway: the pods received before are taken over, the rest let go. */
    @Test
    void whenTheKeepersMessagesGoBadHalfwayThePodsReceivedBeforeAreTakenOver() throws Exception {
        Netns a = mesh.pod("a");
        Netns c = mesh.pod("c");
        KeeperProcess keeper = keeper();
        mesh.start(mesh.config().capture(a, c), keptBy(keeper)).close();
        keeper.awaitLine("stopped holding");
        // a third pod, after a and c, in a message this proxy refuses
        assertThat(keptByHand(keeper, "demo/z", OTHER_VERSION.formatted("demo/z"))).isEqualTo("ok 2");
        int from = keeper.lineCount();
        TestNode next = mesh.startNode("next", mesh.config().capture(a, c), keptBy(keeper));
        keeper.awaitLine("gave the takeover up", from);
        assertThat(next.proxy.pod("demo/a").orElseThrow().rulesInherited()).isTrue();
        assertThat(next.proxy.pod("demo/c").orElseThrow().rulesInherited()).isTrue();
        keeper.awaitLine("pod demo/z: not kept by pid", from);
        await("a and c held by the keeper", () -> next.proxy.keeper().orElseThrow().status().pods() == 2);
    }

    /** The keeper's refusals: each answered, each refused message's descriptors closed, the session still usable. */
    @Test
    void theKeeperRefusesWhatIsNotAPodsListenersAndKeepsNothingOfIt() throws Exception {
        mesh.firstNode(); // root and namespaces, as the other tests
        KeeperProcess keeper = keeper();
        Path fds = Path.of("/proc/" + keeper.pid() + "/fd");
        long before;
        try (Stream<Path> s = Files.list(fds)) {
            before = s.count();
        }
        try (SeqpacketSocket session = SeqpacketSocket.connect(keeper.socket, Duration.ofSeconds(5))) {
            assertThat(ask(session, "release demo/a")).isEqualTo("error not holding: begin with \"hold\"");
            assertThat(ask(session, "hold")).isEqualTo("ok 0");
            assertThat(ask(session, "ping")).isEqualTo("ok 0");
            int netns = Descriptors.openReadOnly(Path.of("/proc/self/ns/net"));
            int notASocket = Descriptors.openReadOnly(Path.of("/dev/null"));
            try {
                String pod = "keep demo/a\n{\"version\":1,\"type\":\"pod\",\"pod\":\"demo/a\",\"ports\":[15001]}";
                assertThat(ask(session, pod, notASocket, notASocket))
                        .isEqualTo("error keep demo/a: descriptor 1 is not a network namespace");
                assertThat(ask(session, pod, netns, notASocket))
                        .isEqualTo("error keep demo/a: descriptor 2 is not a listening TCP socket");
                assertThat(ask(session, pod, netns)).contains("at least one listening socket");
                assertThat(ask(session, "keep ../etc\n{}", netns, netns)).isEqualTo("error keep: not a pod key "
                        + "(namespace/name)");
                assertThat(ask(session, "keep demo/a\nnot json", netns, netns))
                        .isEqualTo("error keep demo/a: the pod message is not a JSON object");
                assertThat(ask(session, "synced", netns)).isEqualTo("error only keep carries descriptors");
            } finally {
                Descriptors.close(netns);
                Descriptors.close(notASocket);
            }
            assertThat(ask(session, "release demo/a")).isEqualTo("ok 0");
            assertThat(ask(session, "what")).isEqualTo("error unknown command");
            assertThat(ask(session, "synced")).isEqualTo("ok 0");

            // A takeover while this session holds is refused, with the reason, in the handover protocol's words.
            try (SeqpacketSocket other = SeqpacketSocket.connect(keeper.socket, Duration.ofSeconds(5))) {
                assertThat(ask(other, "{\"version\":1,\"type\":\"takeover\"}")).startsWith(
                        "{\"version\":1,\"type\":\"failed\",\"error\":\"a proxy (pid " + ProcessHandle.current().pid()
                        + ") holds these listeners");
            }
        }
        // Nothing held, nothing leaked: the session's end leaves the keeper with what it had.
        await("the keeper's descriptors back to what they were", () -> {
            try (Stream<Path> s = Files.list(fds)) {
                return s.count() == before;
            } catch (java.io.IOException e) {
                return false;
            }
        });
        // With no holder, a takeover of nothing: listeners_done at once, then done.
        try (SeqpacketSocket session = SeqpacketSocket.connect(keeper.socket, Duration.ofSeconds(5))) {
            assertThat(ask(session, "{\"version\":1,\"type\":\"takeover\"}"))
                    .isEqualTo("{\"version\":1,\"type\":\"listeners_done\",\"pods\":0}");
            assertThat(ask(session, "{\"version\":1,\"type\":\"accepting\"}"))
                    .isEqualTo("{\"version\":1,\"type\":\"done\",\"moved\":0,\"kept\":0}");
        }
    }

    /** A pod message of a handover protocol version this proxy does not speak. */
    private static final String OTHER_VERSION = "{\"version\":2,\"type\":\"pod\",\"pod\":\"%s\",\"ports\":[15001]}";

    /**
     * Has the keeper keep pod {@code key} with {@code json} as its message, as a proxy would but by hand: the host's
     * network namespace and a listening socket of the test's own on 127.0.0.1 (closed here: the keeper holds its
     * duplicates). Returns the keeper's answer to {@code hold}.
     */
    private static String keptByHand(KeeperProcess keeper, String key, String json) throws Exception {
        io.netty.channel.epoll.Epoll.ensureAvailability();
        io.netty.channel.unix.Socket listener = io.netty.channel.unix.Socket.newSocketStream();
        int netns = Descriptors.openReadOnly(Path.of("/proc/self/ns/net"));
        try (SeqpacketSocket session = SeqpacketSocket.connect(keeper.socket, Duration.ofSeconds(5))) {
            listener.bind(new InetSocketAddress("127.0.0.1", 0));
            listener.listen(16);
            String held = ask(session, "hold");
            assertThat(ask(session, "keep " + key + "\n" + json, netns, listener.intValue())).isEqualTo("ok");
            return held;
        } finally {
            Descriptors.close(netns);
            listener.close();
        }
    }

    private static String ask(SeqpacketSocket session, String message, int... fds) throws Exception {
        session.send(message.getBytes(StandardCharsets.UTF_8), fds);
        SeqpacketSocket.Received r = session.receive(4096, 0);
        assertThat(r.endOfStream()).as("the keeper ended the session").isFalse();
        return new String(r.data(), StandardCharsets.UTF_8);
    }
}
