package io.nodemesh.cni;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin's decisions in this JVM, with a fake control socket behind {@link ProxyClient}: what is sent to the
 * proxy, and how each of its answers (and its absence) becomes the plugin's output. The same plugin as a separate
 * process, through the reference plugins, is {@link CniChainTest}.
 */
class CniPluginTest {

    private static final String PREV = "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"aa:bb:cc:dd:ee:ff\","
            + "\"sandbox\":\"/var/run/netns/x\"}],\"ips\":[{\"interface\":0,\"address\":\"10.250.0.5/24\",\"gateway\":\"10.250.0.1\"},"
            + "{\"interface\":0,\"address\":\"fd00::5/64\"}],\"dns\":{}}";

    @TempDir
    Path dir;
    private Path socket;
    private final FakeProxy proxy = new FakeProxy();

    /** Records each call and answers what the test says. */
    static final class FakeProxy implements ProxyClient, ProxyClient.Namespaces {
        final List<String> requests = new ArrayList<>();
        final List<OptionalInt> fds = new ArrayList<>();
        final List<Integer> closed = new ArrayList<>();
        IOException failure;
        String reply = "{\"ok\":true,\"state\":\"captured\",\"detail\":\"rules and listeners in place\"}";

        @Override
        public byte[] call(Path socket, Duration timeout, byte[] request, OptionalInt netnsFd) throws IOException {
            requests.add(new String(request, UTF_8));
            fds.add(netnsFd);
            if (failure != null) {
                throw failure;
            }
            return reply.getBytes(UTF_8);
        }

        @Override
        public int openNetwork(Path path) throws IOException {
            if (Files.isRegularFile(path)) {
                throw new NotANamespace("it is a regular file");
            }
            return 42;
        }

        @Override
        public void close(int fd) {
            closed.add(fd);
        }
    }

    record Result(int status, String stdout, String stderr) {
        Map<String, Object> json() throws Json.JsonException {
            return Json.parseObject(stdout.getBytes(UTF_8));
        }
    }

    @BeforeEach
    void enrol() throws IOException {
        socket = Files.createFile(dir.resolve("cni.sock"));
        Files.writeString(dir.resolve("enrolment.json"), "{\"version\":1,\"generation\":3,\"enrolledNamespaces\":[\"shop\"]}");
    }

    private String config(String extra) {
        return "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"type\":\"nodemesh-cni\",\"controlSocket\":\"" + socket
                + "\",\"enrolmentFile\":\"" + dir.resolve("enrolment.json") + "\",\"stateDir\":\"" + dir
                + "\",\"runtimeConfig\":{\"portMappings\":[]}" + extra + "}";
    }

    private Result run(String command, String namespace, String stdin) {
        Map<String, String> env = new HashMap<>();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", "c0ffee");
        env.put("CNI_NETNS", dir.toString());
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + namespace + ";K8S_POD_NAME=cart-1;K8S_POD_UID=5f0c-1");
        env.put("CNI_PATH", "/opt/cni/bin");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = new CniPlugin(proxy, proxy).run(env, new ByteArrayInputStream(stdin.getBytes(UTF_8)),
                new PrintStream(out, true, UTF_8), new PrintStream(err, true, UTF_8));
        return new Result(status, out.toString(UTF_8), err.toString(UTF_8));
    }

    @Test
    void anEnrolledPodIsSentWithItsNamespaceAndStartsOnceTheProxyAnswers() throws Exception {
        Result add = run("ADD", "shop", config(",\"prevResult\":" + PREV));

        assertThat(add.status()).isZero();
        assertThat(add.json()).isEqualTo(Json.parseObject(PREV.getBytes(UTF_8)));
        assertThat(proxy.requests).singleElement().satisfies(request -> assertThat(Json.parseObject(request.getBytes(UTF_8)))
                .isEqualTo(Json.parseObject(("{\"version\":1,\"command\":\"ADD\",\"containerId\":\"c0ffee\",\"pod\":{\"namespace\":"
                        + "\"shop\",\"name\":\"cart-1\",\"uid\":\"5f0c-1\"},\"interface\":\"eth0\",\"ips\":[\"10.250.0.5/24\","
                        + "\"fd00::5/64\"],\"netnsPath\":\"" + dir + "\"}").getBytes(UTF_8))));
        assertThat(proxy.fds).containsExactly(OptionalInt.of(42));
        assertThat(proxy.closed).containsExactly(42);
        Map<String, Object> state = Json.parseObject(Files.readAllBytes(dir.resolve("cni-last-ADD.json")));
        assertThat(state).containsEntry("command", "ADD").containsEntry("pod", "shop/cart-1")
                .containsEntry("containerId", "c0ffee").containsEntry("result", "captured").containsKeys("at", "millis");
    }

    @Test
    void aRefusalIsTheProxysErrorWithItsCode() throws Exception {
        proxy.reply = "{\"ok\":false,\"code\":103,\"error\":\"rules failed: iptables-restore exited 4\"}";

        Result add = run("ADD", "shop", config(",\"prevResult\":" + PREV));

        assertThat(add.status()).isNotZero();
        assertThat(add.json()).containsEntry("cniVersion", "1.0.0").containsEntry("code", 103L)
                .containsEntry("details", "rules failed: iptables-restore exited 4");
        assertThat((String) add.json().get("msg")).contains("did not capture pod shop/cart-1");
        assertThat(proxy.closed).containsExactly(42);
        assertThat(Json.parseObject(Files.readAllBytes(dir.resolve("cni-last-ADD.json"))))
                .containsEntry("result", "error").containsEntry("code", 103L);
    }

    @Test
    void aProxyThatIsNotThereOrSilentIsTryAgainLater() throws Exception {
        proxy.failure = new ProxyClient.Unreachable("connection refused", null);
        Result refused = run("ADD", "shop", config(",\"prevResult\":" + PREV));
        assertThat(refused.json()).containsEntry("code", 11L);
        assertThat((String) refused.json().get("msg")).isEqualTo("the nodemesh proxy is not reachable at " + socket);
        assertThat((String) refused.json().get("details")).contains("will not start uncaptured");

        proxy.failure = new ProxyClient.TimedOut("no reply");
        Result silent = run("ADD", "shop", config(",\"timeoutSeconds\":2,\"prevResult\":" + PREV));
        assertThat(silent.json()).containsEntry("code", 11L);
        assertThat((String) silent.json().get("msg")).contains("did not answer in 2 s");

        proxy.failure = null;
        proxy.reply = "hello";
        assertThat(run("ADD", "shop", config(",\"prevResult\":" + PREV)).json()).containsEntry("code", 100L);
    }

    @Test
    void aPathThatIsNotANamespaceIsRefusedBeforeAnythingIsSent() throws Exception {
        Path plain = Files.writeString(dir.resolve("plain"), "not a namespace");
        Map<String, String> env = new HashMap<>(Map.of("CNI_COMMAND", "ADD", "CNI_CONTAINERID", "c1", "CNI_NETNS",
                plain.toString(), "CNI_IFNAME", "eth0", "CNI_ARGS", "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=a;K8S_POD_UID=u"));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status = new CniPlugin(proxy, proxy).run(env,
                new ByteArrayInputStream(config(",\"prevResult\":" + PREV).getBytes(UTF_8)),
                new PrintStream(out, true, UTF_8), new PrintStream(new ByteArrayOutputStream(), true, UTF_8));

        assertThat(status).isNotZero();
        Map<String, Object> error = Json.parseObject(out.toByteArray());
        assertThat(error).containsEntry("code", 4L).containsEntry("msg", "invalid environment: CNI_NETNS");
        assertThat(proxy.requests).isEmpty();
    }

    @Test
    void delReleasesThroughTheProxyAndNothingToReleaseIsSuccess() throws Exception {
        proxy.reply = "{\"ok\":true,\"state\":\"released\"}";
        assertThat(run("DEL", "shop", config(",\"prevResult\":" + PREV)).status()).isZero();
        assertThat(proxy.requests).singleElement().asString().contains("\"command\":\"DEL\"").doesNotContain("\"ips\"");
        assertThat(proxy.fds).containsExactly(OptionalInt.empty());

        proxy.failure = new ProxyClient.Unreachable("connection refused", null);
        Result down = run("DEL", "shop", config(""));
        assertThat(down.status()).isZero();
        assertThat(down.stdout()).isEmpty();

        proxy.failure = null;
        proxy.reply = "{\"ok\":false,\"code\":104,\"error\":\"rules could not be removed\"}";
        assertThat(run("DEL", "shop", config("")).json()).containsEntry("code", 104L);

        Files.delete(socket);
        proxy.requests.clear();
        assertThat(run("DEL", "shop", config("")).status()).isZero();
        assertThat(proxy.requests).isEmpty();
        assertThat(Json.parseObject(Files.readAllBytes(dir.resolve("cni-last-DEL.json")))).containsEntry("result", "released");
    }

    @Test
    void checkAsksTheProxyForAnEnrolledPodAndPrintsNothing() throws Exception {
        Result check = run("CHECK", "shop", config(",\"prevResult\":" + PREV));
        assertThat(check.status()).isZero();
        assertThat(check.stdout()).isEmpty();
        assertThat(proxy.requests).singleElement().asString().contains("\"command\":\"CHECK\"");

        proxy.reply = "{\"ok\":false,\"code\":11,\"error\":\"pod shop/cart-1 is not captured\"}";
        assertThat(run("CHECK", "shop", config(",\"prevResult\":" + PREV)).json()).containsEntry("code", 11L);
        assertThat(run("CHECK", "other", config(",\"prevResult\":" + PREV)).status()).isZero();
    }

    @Test
    void statusIsReadyOnceEnrolmentIsPublished() throws Exception {
        String config = config("").replace("1.0.0", "1.1.0");
        assertThat(run("STATUS", "", config).status()).isZero();
        Files.delete(dir.resolve("enrolment.json"));
        Result notReady = run("STATUS", "", config);
        assertThat(notReady.status()).isNotZero();
        assertThat(notReady.json()).containsEntry("code", 50L);
        assertThat(run("STATUS", "", config("")).json()).containsEntry("code", 1L);
    }

    @Test
    void aResultIsPrintedInTheConfigurationsVersion() throws Exception {
        String config = config(",\"prevResult\":" + PREV).replaceFirst("1.0.0", "0.4.0");
        Map<String, Object> result = run("ADD", "other", config).json();
        assertThat(result).containsEntry("cniVersion", "0.4.0");
        assertThat(new String(Json.write(result.get("ips")), UTF_8)).contains("\"version\":\"4\"").contains("\"version\":\"6\"");
    }

    @Test
    void aStateDirectoryThatCannotBeWrittenDoesNotFailTheCall() throws Exception {
        Path notADir = Files.writeString(dir.resolve("file"), "x");
        Result add = run("ADD", "other", config(",\"prevResult\":" + PREV).replace("\"stateDir\":\"" + dir + "\"",
                "\"stateDir\":\"" + notADir + "\""));
        assertThat(add.status()).isZero();
        assertThat(add.stderr()).contains("cannot write");
    }
}
