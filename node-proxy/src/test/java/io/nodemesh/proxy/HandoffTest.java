package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.linux.Descriptors;
import io.nodemesh.proxy.handoff.ControlSocket;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.redirect.RedirectRules;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.testing.OwnThreads;
import io.nodemesh.topology.Netns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The proxy's side of the CNI plugin: a pod handed over on the control socket with its namespace as a descriptor is
 * captured in that namespace before the answer, released on DEL, and every forged request is refused without harm.
 * The test plays the plugin with a real {@code SOCK_SEQPACKET} socket and real descriptors.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class HandoffTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    private static final ObjectMapper JSON = new ObjectMapper();

    private static String handed(String name, String annotations) {
        return """
                  - name: %s
                    namespace: demo
                    serviceAccount: %s
                    netns: cni
                    annotations: {%s}
                """.formatted(name, name, annotations);
    }

    private static String request(String command, String name, String containerId, Netns pod) {
        return PluginCalls.request(command, "demo", name, containerId, pod);
    }

    private static JsonNode call(Path socket, String json, int... fds) throws Exception {
        return PluginCalls.call(socket, json, fds);
    }

    private static JsonNode call(Path socket, byte[] datagram, int... fds) throws Exception {
        return PluginCalls.call(socket, datagram, fds);
    }

    /** ADD with the pod's namespace opened as the plugin opens it. */
    private static JsonNode add(Path socket, String name, String containerId, Netns pod) throws Exception {
        return PluginCalls.withNamespace(socket, request("ADD", name, containerId, pod), pod);
    }

    private static TestNode start(MeshFile config) throws Exception {
        Path socket = mesh.dir().resolve("run/cni.sock");
        return mesh.start(config, b -> b.cniSocket(socket).enrolmentFile(mesh.dir().resolve("run/enrolment.json")));
    }

    private static Path socket() {
        return mesh.dir().resolve("run/cni.sock");
    }

    @Test
    void aHandedPodIsCapturedBeforeTheAnswerAndReleasedOnDel() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = start(mesh.config().demoNamespace("").entry(handed("a", "")));
        mesh.own(SeededServer.start(b, 8080, 10_000, 10_000, false));
        assertThat(JSON.readTree(Files.readString(mesh.dir().resolve("run/enrolment.json")))
                .get("enrolledNamespaces").toString()).isEqualTo("[\"demo\"]");
        assertThat(Files.getPosixFilePermissions(socket())).isEqualTo(PosixFilePermissions.fromString("rw-------"));
        // Not captured before the handoff (the file names no namespace for it): pending, and it says what for.
        assertThat(node.proxy.captures().states()).containsEntry("demo/a", CaptureState.PENDING);
        JsonNode waiting = JSON.readTree(node.admin("/workloads?namespace=demo")).path("workloads");
        assertThat(waiting.findValues("captureDetail").toString()).contains("the CNI plugin hands the pod over on ADD");
        assertThat(waiting.findValues("captureError").toString()).doesNotContain("CNI");

        JsonNode reply = add(socket(), "a", "sandbox-1", a);
        assertThat(reply.get("ok").asBoolean()).as(reply.toString()).isTrue();
        assertThat(reply.get("state").asText()).isEqualTo("captured");
        // In place when answered: the rules are in a's namespace and its first connection is captured.
        var spec = node.proxy.snapshot().pods().get("demo/a");
        assertThat(spec.ips()).containsExactly(a.ipv4());
        assertThat(RuleEngine.iptables().check(RedirectRules.plan(spec, node.proxy.snapshot().proxy()), a.path())
                .inSync()).isTrue();
        assertThat(SeededClients.run(a, b.ipv4(), 8080, 1, 10_000, 10_000)).containsExactly("ok");
        await("a's connection captured", () -> node.closed.stream()
                .anyMatch(c -> c.podName().equals("a") && c.direction() == Direction.OUTBOUND));
        // The CHECK of the same sandbox agrees; another sandbox's does not.
        assertThat(call(socket(), request("CHECK", "a", "sandbox-1", null)).get("ok").asBoolean()).isTrue();
        assertThat(call(socket(), request("CHECK", "a", "sandbox-0", null)).get("ok").asBoolean()).isFalse();
        // Another sandbox's DEL releases nothing.
        assertThat(call(socket(), request("DEL", "a", "sandbox-0", null)).get("detail").asText())
                .contains("another container");
        assertThat(node.proxy.captures().states().get("demo/a")).isEqualTo(CaptureState.CAPTURED);

        JsonNode del = call(socket(), request("DEL", "a", "sandbox-1", null));
        assertThat(del.get("ok").asBoolean()).as(del.toString()).isTrue();
        assertThat(RuleEngine.iptables().check(RedirectRules.plan(spec, node.proxy.snapshot().proxy()), a.path())
                .present()).isFalse();
        assertThat(node.proxy.pods()).noneMatch(p -> p.spec().key().equals("demo/a"));
        // DEL twice, and DEL of a pod never handed over: nothing to release, success.
        assertThat(call(socket(), request("DEL", "a", "sandbox-1", null)).get("ok").asBoolean()).isTrue();
        assertThat(call(socket(), request("DEL", "ghost", "sandbox-9", null)).get("ok").asBoolean()).isTrue();
        // A new sandbox of the same pod is captured again.
        assertThat(add(socket(), "a", "sandbox-2", a).get("state").asText()).isEqualTo("captured");
    }

    @Test
    void aCheckAfterARestartFindsThePodCapturedInTheNamespaceTheProxyFoundItself() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        // As a restarted proxy has it: no descriptor from the plugin, the namespace found by the proxy (here: named).
        TestNode node = start(mesh.config().demoNamespace("").capture(a));
        await("a captured", () -> node.proxy.captures().states().get("demo/a") == CaptureState.CAPTURED);

        JsonNode same = call(socket(), request("CHECK", "a", "sandbox-1", a));
        assertThat(same.get("ok").asBoolean()).as(same.toString()).isTrue();
        assertThat(same.get("state").asText()).isEqualTo("captured");
        JsonNode other = call(socket(), request("CHECK", "a", "sandbox-1", b));
        assertThat(other.get("ok").asBoolean()).as("a CHECK naming another namespace: %s", other).isFalse();
        assertThat(other.get("error").asText()).contains("not handed to this proxy").contains(b.path().toString());
        JsonNode unnamed = call(socket(), request("CHECK", "a", "sandbox-1", null));
        assertThat(unnamed.get("ok").asBoolean()).as("a CHECK naming no namespace: %s", unnamed).isFalse();
    }

    @Test
    void anAddBeforeTheProxySeesThePodWaitsForIt() throws Exception {
        Netns a = mesh.pod("a");
        TestNode node = start(mesh.config().demoNamespace(""));
        CompletableFuture<JsonNode> reply = CompletableFuture.supplyAsync(() -> {
            try {
                return add(socket(), "a", "sandbox-1", a);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }, OwnThreads.EACH);
        Thread.sleep(1_000);
        assertThat(reply).isNotDone();
        node.rewrite(mesh.config().demoNamespace("").entry(handed("a", "")));
        JsonNode answer = reply.get(30, TimeUnit.SECONDS);
        assertThat(answer.get("state").asText()).as(answer.toString()).isEqualTo("captured");
        assertThat(node.proxy.captures().states().get("demo/a")).isEqualTo(CaptureState.CAPTURED);
    }

    @Test
    void aPodThatOptsOutIsAnsweredNotCaptured() throws Exception {
        Netns a = mesh.pod("a");
        TestNode node = start(mesh.config().demoNamespace("")
                .entry(handed("a", "nodemesh.io/capture: disabled")));
        JsonNode reply = add(socket(), "a", "sandbox-1", a);
        assertThat(reply.get("ok").asBoolean()).isTrue();
        assertThat(reply.get("state").asText()).isEqualTo("not_captured");
        assertThat(node.proxy.pods()).isEmpty();
    }

    @Test
    void forgedRequestsAreRefusedAndLeaveNothingOpen() throws Exception {
        Netns a = mesh.pod("a");
        TestNode node = start(mesh.config().demoNamespace("").entry(handed("a", "")));
        long fdsBefore = openDescriptors();
        Path plain = Files.writeString(mesh.dir().resolve("plain.txt"), "not a namespace");
        int file = Descriptors.openReadOnly(plain);
        int ns1 = Descriptors.openReadOnly(a.path());
        int ns2 = Descriptors.openReadOnly(a.path());
        try {
            assertRefused(call(socket(), request("ADD", "a", "s1", a), file), "not a usable network namespace");
            assertRefused(call(socket(), request("ADD", "a", "s1", a), ns1, ns2), "at most one descriptor");
            assertRefused(call(socket(), request("ADD", "a", "s1", a)), "got none");
            assertRefused(call(socket(), request("DEL", "a", "s1", null), ns1), "carries no descriptor");
            assertRefused(call(socket(), "{\"version\":1,\"command\":\"ADD\"", ns1), "not JSON");
            assertRefused(call(socket(), request("ADD", "../etc", "s1", a), ns1), "pod.name");
            assertRefused(call(socket(), request("ADD", "a", "s1", a).replace("\"version\":1", "\"version\":2"), ns1),
                    "version");
            assertRefused(call(socket(), new byte[70_000], ns1), "larger than");
        } finally {
            Descriptors.close(file);
            Descriptors.close(ns1);
            Descriptors.close(ns2);
        }
        // A peer that is not root: the socket is owner-only, opened up here to reach the second line of defence.
        Files.setPosixFilePermissions(socket(), PosixFilePermissions.fromString("rw-rw-rw-"));
        Files.setPosixFilePermissions(socket().getParent(), PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(mesh.dir(), PosixFilePermissions.fromString("rwxr-xr-x"));
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1]); "
                        + "s.send(sys.argv[2].encode()); print(s.recv(65536).decode())",
                socket().toString(), request("DEL", "a", "s1", null)).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), UTF_8);
        assertThat(p.waitFor()).as(out).isZero();
        assertRefused(JSON.readTree(out), "serves root only");

        ControlSocket control = controlSocket(node);
        assertThat(control.refusals()).containsEntry("not_netns", 1L).containsEntry("descriptors", 3L)
                .containsEntry("invalid", 3L).containsEntry("too_large", 1L).containsEntry("not_root", 1L);
        // Every descriptor the proxy received was closed; the good request still works.
        await("descriptors closed", () -> openDescriptors() <= fdsBefore);
        assertThat(add(socket(), "a", "sandbox-1", a).get("state").asText()).isEqualTo("captured");
        assertThat(node.proxy.captures().states().get("demo/a")).isEqualTo(CaptureState.CAPTURED);
    }

    private static void assertRefused(JsonNode reply, String message) {
        assertThat(reply.get("ok").asBoolean()).as(reply.toString()).isFalse();
        assertThat(reply.get("code").asInt()).isEqualTo(110);
        assertThat(reply.get("error").asText()).contains(message);
    }

    private static long openDescriptors() {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static ControlSocket controlSocket(TestNode node) {
        return node.proxy.controlSocket().orElseThrow();
    }
}
