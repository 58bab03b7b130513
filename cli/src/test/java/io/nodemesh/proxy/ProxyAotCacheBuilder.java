package io.nodemesh.proxy;

import io.nodemesh.discovery.kubernetes.MockApi;
import io.nodemesh.discovery.kubernetes.Resources;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import io.nodemesh.topology.Topology;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Builds the node proxy's AOT cache (JEP 483/514/515: classes loaded and linked, method profiles) at {@code package},
 * after the shade (cli/pom.xml): {@code bin/nodemesh proxy} starts with it when it is newer than the jar. The training
 * run is the real thing: {@code nodemesh proxy} from the built jar with the daemons' flags and
 * {@code -XX:AOTCacheOutput}, reporting to a {@code nodemesh agent}, capturing two pods (nft rules, listeners in
 * their namespaces) while a client in one opens 500 connections a second to an echo server in the other and 20
 * long-lived connections stream, and the admin API is asked for its stats; then SIGTERM, and the JVM writes the cache
 * as it exits. It starts as a restarted proxy does beside {@code nodemesh-keeper}: a first proxy (not recorded)
 * captures the two pods and gives the keeper their listeners, and stops; the recorded one takes them over from the
 * keeper, so that the cache holds that path too (RESULTS.md, "A restart without refusals"). The cache is valid for exactly that JVM, that jar (its size and time) and those flags.
 *
 * <p>The proxy reads its pods from a file, as {@code bin/nodemesh proxy} users run it; with {@code --kubernetes} it
 * runs as the DaemonSet does instead, {@code nodemesh proxy --kubernetes} following an API server over HTTPS
 * (fabric8's mock, {@link MockApi}, holding an enrolled namespace, the two pods running on this node and a Service)
 * and finding the pods' namespaces by their addresses: the cache then also holds the API client, the JDK's HTTP
 * client and TLS and the namespace scan that a restarted DaemonSet proxy runs before it captures anything. That one
 * costs a proxy reading a file about 14 MiB more at idle (classes it never uses, mapped), so each mode has its own
 * (RESULTS.md, "A restart in Kubernetes mode").
 *
 * <p>The image's build (image/pom.xml) runs it too, in Kubernetes mode with the image's JRE and its copy of the jar
 * ({@code CACHE JAVA JAR --kubernetes}), for /opt/nodemesh/lib/nodemesh-proxy.aot.
 *
 * <p>Needs root (network namespaces, nf_tables): without it, no cache is built (a stale one is removed) and the proxy
 * starts without one. A training run that fails fails the build.
 */
final class ProxyAotCacheBuilder {

    private static final Duration START = Duration.ofSeconds(60);
    private static final Duration TRAFFIC = Duration.ofSeconds(10);
    private static final Pattern ADMIN = Pattern.compile("admin on ([0-9.]+:[0-9]+)");
    private static final String NODE = "training-node";

    private ProxyAotCacheBuilder() {
    }

    /**
     * {@code CACHE [JAVA JAR] [--kubernetes]}: writes CACHE for cli/target/nodemesh.jar run by this JVM (or for JAR run
     * by JAVA), trained on a file of pods (or in Kubernetes mode), or exits 1 saying why not.
     */
    public static void main(String[] given) throws Exception {
        List<String> list = new ArrayList<>(List.of(given));
        boolean kubernetes = list.remove("--kubernetes");
        String[] args = list.toArray(String[]::new);
        Path cache = Path.of(args[0]).toAbsolutePath();
        Path java = args.length > 2 ? Path.of(args[1]) : Path.of(System.getProperty("java.home"), "bin", "java");
        Path jar = args.length > 2 ? Path.of(args[2]) : ProxyProcess.JAR;
        Files.deleteIfExists(cache);
        Object uid = Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (!Integer.valueOf(0).equals(uid)) {
            System.out.println("ProxyAotCacheBuilder: not root (uid " + uid + "), so no namespaces to train the proxy "
                    + "in: no " + cache + "; bin/nodemesh proxy starts without an AOT cache");
            return;
        }
        Path dir = Files.createTempDirectory("nodemesh-proxy-aot");
        Deque<AutoCloseable> owned = new ArrayDeque<>();
        int status = 1;
        try (Topology topo = new Topology("nmaot" + ProcessHandle.current().pid() % 100000).closeOnExit()) {
            train(topo, dir, cache, java, jar, owned, kubernetes);
            System.out.println("ProxyAotCacheBuilder: " + cache + " (" + Files.size(cache) / 1024 + " KiB) for "
                    + jar + " on " + java);
            status = 0;
        } catch (Exception | AssertionError e) {
            System.err.println("ProxyAotCacheBuilder: the proxy's training run failed: " + e.getMessage());
            Files.deleteIfExists(cache);
        } finally {
            while (!owned.isEmpty()) {
                owned.pop().close();
            }
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
        System.exit(status);
    }

    private static void train(Topology topo, Path dir, Path cache, Path java, Path jar, Deque<AutoCloseable> owned,
                              boolean kubernetes) throws Exception {
        Lan lan = topo.lan("lan");
        Netns client = lan.attach("a", "10.78.0.2/24");
        Netns server = lan.attach("b", "10.78.0.3/24");
        String settings = "proxy: { transport: epoll, workers: 1, rules: nft }\n";
        List<String> source;
        if (kubernetes) {
            MockApi api = own(owned, new MockApi(true));
            writeCluster(api);
            source = List.of("--kubernetes", "--node-name", NODE, "--kubeconfig", api.kubeconfig(dir).toString(),
                    "--config", Files.writeString(dir.resolve("settings.yaml"), settings).toString(),
                    "--cni-socket", dir.resolve("cni.sock").toString());
        } else {
            source = List.of("--config", Files.writeString(dir.resolve("mesh.yaml"), settings + """
                    pods:
                      - { name: client, namespace: training, serviceAccount: client, ips: [10.78.0.2], netns: %s, capture: true }
                      - { name: server, namespace: training, serviceAccount: server, ips: [10.78.0.3], netns: %s, capture: true }
                    """.formatted(client.path(), server.path())).toString());
        }
        Path telemetry = dir.resolve("telemetry.sock");
        ProxyProcess agent = own(owned, ProxyProcess.start(java, jar, "agent", dir, List.of(), "agent",
                List.of("--socket", telemetry.toString(), "--metrics-address", "127.0.0.1:0")));
        agent.awaitLine("telemetry agent", START);
        KeeperProcess keeper = own(owned, KeeperProcess.start(dir.resolve("run").resolve("keeper.sock")));
        List<String> args = new ArrayList<>(source);
        args.addAll(List.of("--admin", "127.0.0.1:0", "--readiness", "127.0.0.1:0",
                "--admin-socket", dir.resolve("admin.sock").toString(), "--telemetry-socket", telemetry.toString(),
                "--keeper-socket", keeper.socket.toString()));
        ProxyProcess first = own(owned, ProxyProcess.start(java, jar, "proxy-first", dir, List.of(), "proxy", args));
        first.awaitLine("proxy started", START);
        first.awaitLine("listener keeper at " + keeper.socket + ": holding", START);
        first.terminate(Duration.ofSeconds(60));
        ProxyProcess proxy = own(owned, ProxyProcess.start(java, jar, "proxy", dir,
                List.of("-XX:AOTCacheOutput=" + cache), "proxy", args));
        proxy.awaitLine("pod training/client: took over the listeners", START);
        Matcher admin = ADMIN.matcher(proxy.awaitLine("proxy started", START));
        if (!admin.find()) {
            throw new AssertionError("no admin address in the proxy's log:\n" + proxy.log());
        }
        own(owned, EchoServer.start(server, 7000, 4096));
        ExecutorService inClient = client.executor();
        owned.push(inClient::shutdownNow);
        InetSocketAddress echo = new InetSocketAddress(server.ipv4(), 7000);
        LongLivedStreams streams = own(owned, LongLivedStreams.start(inClient, echo, 20, 4096, Duration.ofMillis(10)));
        ConnectionChurn churn = own(owned, ConnectionChurn.start(inClient, echo, 500));
        HttpClient http = HttpClient.newHttpClient();
        long end = System.nanoTime() + TRAFFIC.toNanos();
        while (System.nanoTime() < end) {
            Thread.sleep(1000);
            for (String path : List.of("/stats", "/connections")) {
                http.send(HttpRequest.newBuilder(URI.create("http://" + admin.group(1) + path))
                        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding());
            }
        }
        churn.close();
        streams.close();
        if (churn.ok() < 1000) {
            throw new AssertionError("the training traffic did not go through the proxy: " + churn.ok() + " connections "
                    + "made, " + churn.failed() + " failed (first: " + churn.firstFailure() + ")\n" + proxy.log());
        }
        // The JVM writes the cache as it exits; after SIGTERM its status is 143 (128 + 15) once the proxy has drained.
        int exit = proxy.terminate(Duration.ofSeconds(60));
        // The cache is assembled by a child JVM at exit; when that one fails (a JVM bug has made it crash) the file
        // is left empty and the proxy's exit status does not say so.
        if ((exit != 0 && exit != 143) || !Files.isRegularFile(cache) || Files.size(cache) == 0) {
            throw new AssertionError("the training proxy exited " + exit + (Files.isRegularFile(cache)
                    ? Files.size(cache) == 0 ? " and left " + cache + " empty" : ""
                    : " without writing " + cache) + ":\n" + proxy.log());
        }
        System.out.println("ProxyAotCacheBuilder: trained on " + churn.ok() + " connections (" + churn.failed()
                + " failed) and " + streams.size() + " long-lived ones");
        agent.terminate(Duration.ofSeconds(30));
    }

    /**
     * The two training pods as the API has them (a namespace enrolled, the pods on this node running, the server
     * behind a Service with its EndpointSlice), so that the proxy lists them, finds their namespaces by their addresses
     * and captures them as a restarted DaemonSet proxy does.
     */
    private static void writeCluster(MockApi api) {
        api.admin.resource(Resources.namespace("training", true)).create();
        api.admin.resource(Resources.pod("training", "client", NODE, "10.78.0.2").build()).create();
        api.admin.resource(Resources.pod("training", "server", NODE, "10.78.0.3").build()).create();
        api.admin.resource(Resources.service("training", "echo", "10.78.0.100", 80)).create();
        api.admin.resource(Resources.slice("training", "echo-1", "echo", 7000,
                Resources.endpoint("10.78.0.3", "training", "server", NODE, true))).create();
    }

    private static <T extends AutoCloseable> T own(Deque<AutoCloseable> owned, T resource) {
        owned.push(resource);
        return resource;
    }
}
