package io.nodemesh.cni;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.testing.cni.CniRuntime;
import io.nodemesh.testing.cni.CniRuntime.Attachment;
import io.nodemesh.testing.cni.CniRuntime.Outcome;
import io.nodemesh.testing.cni.CniRuntime.PluginRun;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The plugin as a container runtime runs it: a separate JVM per call ({@link PluginProcess}), chained last after
 * Debian's reference plugins ({@code bridge} with {@code host-local}; {@code loopback} as containerd runs it, a
 * network of its own on {@code lo}), every plugin started by {@link CniRuntime} with the environment and stdin libcni
 * gives it, inside a test "node" namespace (where the bridge is made) for pods in namespaces of their own. The proxy's
 * end of the control socket is {@link ControlSocketServer}, a real {@code SOCK_SEQPACKET} listener.
 */
class CniChainTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @TempDir
    static Path dir;

    private static final List<Path> REFERENCE_PLUGINS = List.of(Path.of("/usr/lib/cni"));
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final AtomicInteger PODS = new AtomicInteger();
    private static Netns node;
    private static Path bin;
    private static String bridge;
    private static String subnet;
    private static Path enrolment;

    @BeforeAll
    static void node() throws IOException {
        node = net.namespace("node");
        bin = PluginProcess.binDir(dir);
        bridge = "nmb" + Integer.toHexString(RANDOM.nextInt(0x100000, 0x1000000));
        subnet = "10." + (200 + RANDOM.nextInt(56)) + "." + RANDOM.nextInt(256) + ".0/24";
        enrolment = Files.writeString(dir.resolve("enrolment.json"),
                "{\"version\":1,\"generation\":4,\"enrolledNamespaces\":[\"shop\",\"kube-system\"]}");
    }

    /** The conflist: bridge + host-local, then nodemesh-cni with {@code nodemesh} as its own keys (JSON members). */
    private static byte[] conflist(String cniVersion, String nodemesh) {
        String nodemeshPlugin = nodemesh == null ? "" : ",{\"type\":\"nodemesh-cni\"" + (nodemesh.isEmpty() ? "" : ",")
                + nodemesh + "}";
        return ("{\"cniVersion\":\"" + cniVersion + "\",\"name\":\"nodemesh-test\",\"plugins\":[{\"type\":\"bridge\","
                + "\"bridge\":\"" + bridge + "\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\""
                + subnet + "\",\"dataDir\":\"" + dir.resolve("host-local") + "\"}}" + nodemeshPlugin + "]}").getBytes(UTF_8);
    }

    private static String keys(Path socket, Path enrolmentFile) {
        return "\"controlSocket\":\"" + socket + "\",\"enrolmentFile\":\"" + enrolmentFile + "\",\"stateDir\":\""
                + dir.resolve("state") + "\"";
    }

    private static CniRuntime runtime(byte[] conflist) {
        return new CniRuntime(conflist, List.of(REFERENCE_PLUGINS.getFirst(), bin))
                .launchedWith(List.of("nsenter", "--net=" + node.path(), "--"))
                .timeout(Duration.ofSeconds(60));
    }

    /** A pod in a namespace of its own, with lo up as containerd's loopback network does. */
    private static Attachment pod(String namespace) {
        Netns pod = net.namespace("pod");
        int n = PODS.incrementAndGet();
        Attachment loopback = attachment(pod.path(), "lo", namespace, n);
        Outcome lo = runtime(("{\"cniVersion\":\"1.0.0\",\"name\":\"cni-loopback\",\"plugins\":[{\"type\":\"loopback\"}]}")
                .getBytes(UTF_8)).add(loopback);
        assertThat(lo.ok()).as("loopback: %s", lo.msg()).isTrue();
        return attachment(pod.path(), "eth0", namespace, n);
    }

    private static Attachment attachment(Path netns, String ifname, String namespace, int n) {
        return new Attachment("c" + Integer.toHexString(RANDOM.nextInt()) + "-" + n, netns, ifname,
                new CniRuntime.Pod(namespace, "pod-" + n, UUID.nameUUIDFromBytes(("pod" + n).getBytes(UTF_8)).toString()));
    }

    private static Map<String, Object> json(byte[] bytes) throws Json.JsonException {
        return Json.parseObject(bytes);
    }

    private static void assertOk(Outcome outcome) {
        assertThat(outcome.ok()).as("%s: code %s, %s: %s; stderr: %s", outcome.last().type(), outcome.code(),
                outcome.msg(), outcome.details(), outcome.last().stderr()).isTrue();
    }

    @SuppressWarnings("unchecked")
    private static String firstAddress(Map<String, Object> result) {
        Map<String, Object> ip = (Map<String, Object>) ((List<Object>) result.get("ips")).getFirst();
        return (String) ip.get("address");
    }

    /** host-local keeps a file named after each address it holds. */
    private static boolean reserved(String cidr) {
        return Files.exists(dir.resolve("host-local").resolve("nodemesh-test").resolve(cidr.substring(0, cidr.indexOf('/'))));
    }

    @Test
    void aPodOfANamespaceThatIsNotEnrolledGetsTheBridgesResultUnchangedAlsoWithNoProxy() throws Exception {
        CniRuntime runtime = runtime(conflist("1.0.0", keys(dir.resolve("no-proxy.sock"), enrolment)));
        Attachment pod = pod("books");

        Outcome add = runtime.add(pod);

        assertOk(add);
        assertThat(add.runs()).extracting(PluginRun::type).containsExactly("bridge", "nodemesh-cni");
        Map<String, Object> bridgeResult = json(add.runs().getFirst().stdout());
        assertThat(json(add.result())).isEqualTo(bridgeResult);
        String address = firstAddress(bridgeResult);
        assertThat(Commands.run("nsenter", "--net=" + pod.netns(), "ip", "-o", "addr", "show", "eth0").stdout())
                .contains(address);
        assertThat(json(Files.readAllBytes(dir.resolve("state/cni-last-ADD.json"))))
                .containsEntry("result", "passed_through").containsEntry("pod", "books/" + pod.pod().name());

        assertOk(runtime.check(pod));
        assertOk(runtime.del(pod));
        assertThat(reserved(address)).isFalse();
    }

    @Test
    void aPodOfAnExcludedNamespaceIsPassedThroughWithoutAnEnrolmentFile() throws Exception {
        CniRuntime runtime = runtime(conflist("1.0.0", keys(dir.resolve("no-proxy.sock"), dir.resolve("none.json"))
                + ",\"excludeNamespaces\":[\"kube-system\"]"));
        Attachment pod = pod("kube-system");

        Outcome add = runtime.add(pod);

        assertOk(add);
        assertThat(json(add.result())).isEqualTo(json(add.runs().getFirst().stdout()));
        assertOk(runtime.del(pod));
    }

    @Test
    void withoutAnEnrolmentFileAPodIsTryAgainLaterAndTheRuntimesDelReleasesItsAddress() throws Exception {
        CniRuntime runtime = runtime(conflist("1.0.0", keys(dir.resolve("no-proxy.sock"), dir.resolve("none.json"))));
        Attachment pod = pod("shop");

        Outcome add = runtime.add(pod);

        assertThat(add.ok()).isFalse();
        assertThat(add.last().type()).isEqualTo("nodemesh-cni");
        assertThat(add.last().exitCode()).isNotZero();
        assertThat(add.code()).isEqualTo(11);
        assertThat(add.details()).contains(dir.resolve("none.json").toString());
        String address = firstAddress(json(add.runs().getFirst().stdout()));
        assertThat(reserved(address)).isTrue();
        assertOk(runtime.del(pod)); // what a runtime does after a failed ADD
        assertThat(reserved(address)).isFalse();
    }

    @Test
    void anEnrolledPodWithNoProxyFailsNamingTheSocket() throws Exception {
        Path socket = dir.resolve("absent.sock");
        CniRuntime runtime = runtime(conflist("1.0.0", keys(socket, enrolment)));
        Attachment pod = pod("shop");

        Outcome add = runtime.add(pod);

        assertThat(add.ok()).isFalse();
        assertThat(add.last().exitCode()).isNotZero();
        assertThat(add.code()).isEqualTo(11);
        assertThat(add.msg()).isEqualTo("the nodemesh proxy is not reachable at " + socket);
        assertThat(add.details()).contains("will not start uncaptured");
        assertThat(add.last().stderr()).contains(socket.toString());
        assertOk(runtime.del(pod));
    }

    @Test
    void anEnrolledPodIsHandedToTheProxyWithItsNamespaceAndStartsWhenTheProxyAnswers() throws Exception {
        try (ControlSocketServer proxy = ControlSocketServer.answering(dir.resolve("proxy-" + PODS.get() + ".sock"))) {
            CniRuntime runtime = runtime(conflist("1.0.0", keys(proxy.path(), enrolment)));
            Attachment pod = pod("shop");

            Outcome add = runtime.add(pod);

            assertOk(add);
            assertThat(json(add.result())).isEqualTo(json(add.runs().getFirst().stdout()));
            ControlSocketServer.Request request = proxy.requests().getFirst();
            assertThat(request.namespaceTypes()).containsExactly(0x40000000); // CLONE_NEWNET
            assertThat(request.peerUid()).isZero();
            Map<String, Object> sent = json(request.json().getBytes(UTF_8));
            assertThat(sent).containsEntry("version", 1L).containsEntry("command", "ADD")
                    .containsEntry("containerId", pod.containerId()).containsEntry("interface", "eth0")
                    .containsEntry("netnsPath", pod.netns().toString())
                    .containsEntry("pod", Map.of("namespace", "shop", "name", pod.pod().name(), "uid", pod.pod().uid()))
                    .containsEntry("ips", List.of(firstAddress(json(add.result()))));

            assertOk(runtime.check(pod));
            assertOk(runtime.del(pod));
            assertThat(proxy.requests()).extracting(r -> json(r.json().getBytes(UTF_8)).get("command"))
                    .containsExactly("ADD", "CHECK", "DEL");
            assertThat(proxy.requests().get(2).namespaceTypes()).isEmpty();
        }
    }

    @Test
    void aProxyThatRefusesOrDoesNotAnswerFailsTheAdd() throws Exception {
        try (ControlSocketServer proxy = ControlSocketServer.answering(dir.resolve("refusing-" + PODS.get() + ".sock"))) {
            CniRuntime runtime = runtime(conflist("1.0.0", keys(proxy.path(), enrolment) + ",\"timeoutSeconds\":1"));
            Attachment pod = pod("shop");

            proxy.reply("{\"ok\":false,\"code\":103,\"error\":\"rules failed in the pod's namespace\"}");
            Outcome refused = runtime.add(pod);
            assertThat(refused.ok()).isFalse();
            assertThat(refused.code()).isEqualTo(103);
            assertThat(refused.details()).isEqualTo("rules failed in the pod's namespace");
            proxy.reply(ControlSocketServer.CAPTURED);
            assertOk(runtime.del(pod));

            proxy.reply(null);
            Outcome silent = runtime.add(pod);
            assertThat(silent.ok()).isFalse();
            assertThat(silent.code()).isEqualTo(11);
            assertThat(silent.msg()).contains("did not answer in 1 s");
            proxy.reply(ControlSocketServer.CAPTURED);
            assertOk(runtime.del(pod));

            assertOk(runtime.add(pod)); // the runtime's retry, once the proxy answers
            assertOk(runtime.del(pod));
        }
    }

    @Test
    void delSucceedsWithNothingToRelease() throws Exception {
        CniRuntime runtime = runtime(conflist("1.0.0", keys(dir.resolve("absent.sock"), enrolment)));
        Attachment pod = pod("books");

        assertOk(runtime.del(pod)); // DEL without ADD
        assertOk(runtime.add(pod));
        assertOk(runtime.del(pod));
        assertOk(runtime.del(pod)); // DEL twice

        try (ControlSocketServer proxy = ControlSocketServer.answering(dir.resolve("gone-" + PODS.get() + ".sock"))) {
            CniRuntime withProxy = runtime(conflist("1.0.0", keys(proxy.path(), enrolment)));
            Attachment gone = pod("shop");
            assertOk(withProxy.add(gone));
            Commands.run("ip", "netns", "del", gone.netns().getFileName().toString()).requireOk();
            proxy.reply("{\"ok\":true,\"state\":\"released\"}");
            assertOk(withProxy.del(gone)); // DEL after the namespace is gone
            proxy.close();
            assertOk(withProxy.del(gone)); // and with the proxy gone too
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"0.3.1", "0.4.0", "1.0.0"})
    void everySpecVersionTheReferencePluginsSpeak(String cniVersion) throws Exception {
        try (ControlSocketServer proxy = ControlSocketServer.answering(dir.resolve("v" + PODS.get() + ".sock"))) {
            CniRuntime runtime = runtime(conflist(cniVersion, keys(proxy.path(), enrolment)));
            for (String namespace : List.of("books", "shop")) {
                Attachment pod = pod(namespace);
                Outcome add = runtime.add(pod);
                assertOk(add);
                Map<String, Object> result = json(add.result());
                assertThat(result).containsEntry("cniVersion", cniVersion).isEqualTo(json(add.runs().getFirst().stdout()));
                if (!cniVersion.equals("0.3.1")) {
                    assertOk(runtime.check(pod));
                }
                assertOk(runtime.del(pod));
            }
            // books' DEL goes to the proxy too (it may have been enrolled when it was added); only shop is added there
            assertThat(proxy.requests()).extracting(r -> json(r.json().getBytes(UTF_8)).get("command"))
                    .isEqualTo(cniVersion.equals("0.3.1") ? List.of("DEL", "ADD", "DEL") : List.of("DEL", "ADD", "CHECK", "DEL"));
            assertThat(json(proxy.requests().get(1).json().getBytes(UTF_8)).get("ips")).asInstanceOf(
                    org.assertj.core.api.InstanceOfAssertFactories.LIST).hasSize(1);
        }
    }

    @Test
    void versionListsTheSupportedVersions() throws Exception {
        CniRuntime runtime = runtime(conflist("1.0.0", ""));
        for (String stdin : List.of("{\"cniVersion\":\"1.0.0\"}", "")) {
            PluginRun run = runtime.invoke("nodemesh-cni", Map.of("CNI_COMMAND", "VERSION"), stdin.getBytes(UTF_8));
            assertThat(run.exitCode()).isZero();
            assertThat(json(run.stdout())).containsEntry("cniVersion", stdin.isEmpty() ? "1.1.0" : "1.0.0")
                    .containsEntry("supportedVersions", List.of("0.3.1", "0.4.0", "1.0.0", "1.1.0"));
        }
    }

    @Test
    void badInputIsACniErrorAndNothingIsSent() throws Exception {
        try (ControlSocketServer proxy = ControlSocketServer.answering(dir.resolve("bad-" + PODS.get() + ".sock"))) {
            CniRuntime runtime = runtime(conflist("1.0.0", ""));
            Path netns = net.namespace("bad").path();
            String prev = "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"" + netns
                    + "\"}],\"ips\":[{\"interface\":0,\"address\":\"10.250.1.5/24\"}]}";
            String good = "{\"cniVersion\":\"1.0.0\",\"name\":\"nodemesh-test\",\"type\":\"nodemesh-cni\","
                    + keys(proxy.path(), enrolment) + ",\"prevResult\":" + prev + "}";
            Map<String, String> env = Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "c0ffee", "CNI_NETNS", netns.toString(),
                    "CNI_IFNAME", "eth0", "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart;K8S_POD_UID=u-1");
            byte[] tenMegabytes = new byte[10 << 20];
            Arrays.fill(tenMegabytes, (byte) ' ');
            Path plainFile = Files.writeString(dir.resolve("plain-file"), "not a namespace");

            assertError(runtime, env, new byte[0], 6);
            assertError(runtime, env, "{\"cniVersion\":".getBytes(UTF_8), 6);
            assertError(runtime, env, tenMegabytes, 7);
            assertError(runtime, env, good.replace(",\"prevResult\":" + prev, "").getBytes(UTF_8), 7);
            assertError(runtime, env, good.replace("\"cniVersion\":\"1.0.0\",\"name\"", "\"cniVersion\":\"9.9.9\",\"name\"")
                    .getBytes(UTF_8), 1);
            assertError(runtime, with(env, "CNI_NETNS", plainFile.toString()), good.getBytes(UTF_8), 4);
            assertError(runtime, with(env, "CNI_NETNS", dir.resolve("no-such-netns").toString()), good.getBytes(UTF_8), 4);
            assertError(runtime, with(env, "CNI_COMMAND", ""), good.getBytes(UTF_8), 4);
            assertError(runtime, with(env, "CNI_CONTAINERID", ""), good.getBytes(UTF_8), 4);
            assertError(runtime, with(env, "CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=cart"), good.getBytes(UTF_8), 4);
            assertError(runtime, with(env, "CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=cart"), good.getBytes(UTF_8), 4);
            assertThat(proxy.requests()).isEmpty();

            PluginRun sent = runtime.invoke("nodemesh-cni", env, good.getBytes(UTF_8));
            assertThat(sent.exitCode()).as(sent.stdoutText()).isZero();
            assertThat(proxy.requests()).hasSize(1);
        }
    }

    @Test
    void statusIsReadyOnceTheProxyHasPublishedEnrolment() throws Exception {
        CniRuntime runtime = runtime(conflist("1.0.0", ""));
        String config = "{\"cniVersion\":\"1.1.0\",\"name\":\"nodemesh-test\",\"type\":\"nodemesh-cni\","
                + keys(dir.resolve("absent.sock"), enrolment) + "}";
        assertThat(runtime.invoke("nodemesh-cni", Map.of("CNI_COMMAND", "STATUS"), config.getBytes(UTF_8)).exitCode())
                .isZero();
        PluginRun notReady = runtime.invoke("nodemesh-cni", Map.of("CNI_COMMAND", "STATUS"),
                config.replace(enrolment.toString(), dir.resolve("none.json").toString()).getBytes(UTF_8));
        assertThat(notReady.exitCode()).isNotZero();
        assertThat(json(notReady.stdout())).containsEntry("code", 50L);
    }

    private static Map<String, String> with(Map<String, String> env, String key, String value) {
        Map<String, String> changed = new HashMap<>(env);
        changed.put(key, value);
        return changed;
    }

    private static void assertError(CniRuntime runtime, Map<String, String> env, byte[] stdin, int code) throws Exception {
        PluginRun run = runtime.invoke("nodemesh-cni", env, stdin);
        assertThat(run.exitCode()).as("exit of %s", run.stdoutText()).isNotZero();
        Map<String, Object> error = json(run.stdout());
        assertThat(error).as(run.stdoutText()).containsKeys("cniVersion", "msg").containsEntry("code", (long) code);
        assertThat(run.stderr()).startsWith("nodemesh-cni: ");
    }
}
