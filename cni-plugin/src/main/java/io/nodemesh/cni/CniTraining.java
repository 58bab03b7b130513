package io.nodemesh.cni;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The workload the plugin's AOT cache ({@code nodemesh-cni.d/nodemesh-cni.aot}) is trained on when the layout is
 * built: the calls a node makes most, each through {@link CniPlugin#run} as {@code main} makes it (cni-plugin's
 * {@code CniAotCacheBuilder} runs this from the layout's jars with the launcher's flags). Not for operators.
 */
public final class CniTraining {

    private static final String PREV_RESULT = "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\","
            + "\"mac\":\"0a:58:0a:f4:00:05\",\"sandbox\":\"/proc/self/ns/net\"}],\"ips\":[{\"interface\":0,"
            + "\"address\":\"10.244.0.5/24\",\"gateway\":\"10.244.0.1\"}],\"dns\":{}}";

    private CniTraining() {
    }

    /**
     * {@code WORK_DIR CONTROL_SOCKET}: runs VERSION; ADD, CHECK and DEL of an excluded namespace, of one that is not
     * enrolled and of an enrolled one (sent to CONTROL_SOCKET, where the builder's server answers); and an ADD with
     * a configuration that is not JSON. Exits 1 if a call that must succeed did not. CONTROL_SOCKET {@code -}: no
     * proxy answers (the image's build trains this way, on the plugin's own JRE): the enrolled namespace's ADD and
     * CHECK take the fail-closed path, and must fail.
     */
    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: CniTraining WORK_DIR CONTROL_SOCKET");
            System.exit(2);
        }
        Path work = Path.of(args[0]);
        boolean proxy = !args[1].equals("-");
        String controlSocket = proxy ? args[1] : work.resolve("no-proxy.sock").toString();
        Files.writeString(work.resolve("enrolment.json"),
                "{\"version\":1,\"generation\":1,\"enrolledNamespaces\":[\"shop\"]}");
        String config = "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s-pod-network\",\"type\":\"nodemesh-cni\","
                + "\"controlSocket\":\"" + controlSocket + "\",\"enrolmentFile\":\"" + work.resolve("enrolment.json")
                + "\",\"stateDir\":\"" + work + "\",\"prevResult\":" + PREV_RESULT + "}";
        int failed = 0;
        failed += call("VERSION", "", "{\"cniVersion\":\"1.1.0\"}", true);
        for (String namespace : new String[] {"kube-system", "default", "shop"}) {
            boolean answered = proxy || !namespace.equals("shop");
            int add = run("ADD", namespace, config);
            if (answered ? add != 0 : add == 0) {
                System.err.println("CniTraining: ADD of namespace " + namespace + " exited " + add
                        + (answered ? "" : " with no proxy to answer"));
                failed++;
            }
            failed += call("CHECK", namespace, config, answered);
            failed += call("DEL", namespace, config, true); // nothing to release is a success, proxy or not
        }
        failed += call("ADD", "default", "{not json", false);
        System.exit(failed == 0 ? 0 : 1);
    }

    private static int call(String command, String namespace, String stdin, boolean mustSucceed) {
        int status = run(command, namespace, stdin);
        if (mustSucceed && status != 0) {
            System.err.println("CniTraining: " + command + " of namespace " + namespace + " exited " + status);
            return 1;
        }
        return 0;
    }

    /** One call as {@code main} makes it; its exit status. */
    private static int run(String command, String namespace, String stdin) {
        Map<String, String> env = new HashMap<>(System.getenv()); // as main reads it
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", "8c0ffee0training");
        env.put("CNI_NETNS", "/proc/self/ns/net");
        env.put("CNI_IFNAME", "eth0");
        env.put("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + namespace + ";K8S_POD_NAME=training-0;"
                + "K8S_POD_INFRA_CONTAINER_ID=8c0ffee0training;K8S_POD_UID=0c1d2e3f-training");
        env.put("CNI_PATH", "/opt/cni/bin");
        PrintStream discard = new PrintStream(OutputStream.nullOutputStream(), false, StandardCharsets.UTF_8);
        JniControlSocket socket = new JniControlSocket();
        return new CniPlugin(socket, socket).run(env,
                new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), discard, discard);
    }
}
