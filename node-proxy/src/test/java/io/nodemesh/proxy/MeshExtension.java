package io.nodemesh.proxy;

import io.nodemesh.proxy.identity.IdentityException;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.model.SpiffeId;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 extension that owns a test's mesh: a node (a namespace with a bridge) and its pods in network namespaces,
 * the standalone config file, the proxies started on it, and whatever else the test hands it ({@link #own}: servers,
 * clients, reporters). After each test, passed or failed, it closes what it owns, newest first, then removes the
 * namespaces. Register it with {@code @RegisterExtension static final MeshExtension mesh = new MeshExtension();}
 * (after {@link LeakGuard}). Namespaces need root: see {@link NetnsExtension}, which this builds on, for when tests
 * are skipped and when they fail instead.
 */
public final class MeshExtension implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {

    /** The link between the first node and the second, in the first node's namespace. */
    public static final String WIRE = "wire";

    private final NetnsExtension net = new NetnsExtension();
    private final Deque<AutoCloseable> owned = new ArrayDeque<>();
    private final Map<Netns, String> podNames = new IdentityHashMap<>();
    private Lan node;
    private Lan secondNode;
    private Path dir;

    @Override
    public void beforeAll(ExtensionContext context) {
        net.beforeAll(context);
    }

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        net.beforeEach(context);
        dir = Files.createTempDirectory("nodemesh-mesh");
    }

    @Override
    public void afterEach(ExtensionContext context) throws Exception {
        Exception failure = null;
        while (!owned.isEmpty()) {
            try {
                owned.pop().close();
            } catch (Exception e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        podNames.clear();
        node = null;
        secondNode = null;
        net.afterEach(context);
        deleteDir();
        if (failure != null) {
            throw failure;
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        net.afterAll(context);
    }

    /** A pod {@code name} on the node, with the next IPv4 address: 10.77.0.2 for the first pod of a test, .3, .4 … */
    public Netns pod(String name) {
        return attach(name, false);
    }

    /** A pod as {@link #pod} with an IPv6 address too: fd77::2 for the first pod of a test, fd77::3, … */
    public Netns dualStackPod(String name) {
        return attach(name, true);
    }

    /**
     * A pod {@code name} on a second node, with the next IPv4 address of the same network: the two nodes' bridges are
     * joined by one link, {@link #WIRE} in the first node's namespace ({@link #firstNode}), so everything between pods
     * of different nodes crosses it (and can be captured there).
     */
    public Netns podOnSecondNode(String name) {
        if (secondNode == null) {
            Netns first = firstNode();
            secondNode = net.lan("node2");
            first.execOk("ip", "link", "add", WIRE, "type", "veth", "peer", "name", WIRE + "-2", "netns",
                    secondNode.node().name());
            first.execOk("ip", "link", "set", WIRE, "master", "br0", "up");
            secondNode.node().execOk("ip", "link", "set", WIRE + "-2", "master", "br0", "up");
        }
        return attach(secondNode, name, false);
    }

    /** The first node's namespace (its bridge {@code br0}, and {@link #WIRE} once there is a second node). */
    public Netns firstNode() {
        if (node == null) {
            node = net.lan("node");
        }
        return node.node();
    }

    /** A cgroup (v2) for a pod's processes, removed after the test (what runs in it killed). */
    public io.nodemesh.topology.Cgroup cgroup(String label) {
        return net.cgroup(label);
    }

    /** A config for this test's pods: {@code mesh.config().capture(a, b)}. */
    public MeshFile config() {
        return new MeshFile(podNames::get);
    }

    /** Starts a proxy on {@code config} (written to {@code mesh.yaml} in this test's directory). */
    public TestNode start(MeshFile config) throws Exception {
        return start(config, UnaryOperator.identity());
    }

    /**
     * Starts a proxy on {@code config} with {@code options} applied to its builder after the test defaults (see
     * {@link TestNode}); for instance {@code b -> b.transport(TransportKind.NIO)}.
     */
    public TestNode start(MeshFile config, UnaryOperator<NodeProxy.Builder> options) throws Exception {
        return start(dir, config, options);
    }

    /**
     * Starts the proxy of another node on {@code config}, with its file and admin socket in a directory of its own
     * ({@code nodeName} under this test's directory), so that two proxies run side by side.
     */
    public TestNode startNode(String nodeName, MeshFile config) throws Exception {
        return startNode(nodeName, config, UnaryOperator.identity());
    }

    /** {@link #startNode(String, MeshFile)} with {@code options} applied to its builder after the test defaults. */
    public TestNode startNode(String nodeName, MeshFile config, UnaryOperator<NodeProxy.Builder> options)
            throws Exception {
        return start(Files.createDirectories(dir.resolve(nodeName)), config, options);
    }

    private TestNode start(Path in, MeshFile config, UnaryOperator<NodeProxy.Builder> options) throws Exception {
        TestNode started = own(new TestNode(in.resolve("mesh.yaml"), config.yaml(), options));
        started.proxy.start();
        return started;
    }

    /** A new mesh CA (trust domain cluster.local) written to {@code ca/} in this test's directory, for {@code identity(...)}. */
    public Path meshCa() throws IdentityException {
        Path caDir = dir.resolve("ca");
        MeshCa.create(SpiffeId.DEFAULT_TRUST_DOMAIN, Duration.ofDays(1)).write(caDir, false);
        return caDir;
    }

    /** Closes {@code resource} after the test (before anything owned earlier, and before the namespaces go). */
    public <T extends AutoCloseable> T own(T resource) {
        owned.push(resource);
        return resource;
    }

    /** This test's directory, removed after it. */
    public Path dir() {
        return dir;
    }

    /** Waits (at most 30 s) until {@code condition} holds. */
    public static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(20);
        }
    }

    private Netns attach(String name, boolean ipv6) {
        firstNode();
        return attach(node, name, ipv6);
    }

    private Netns attach(Lan on, String name, boolean ipv6) {
        int host = podNames.size() + 2;
        Netns pod = ipv6 ? on.attach("p" + name, "10.77.0." + host + "/24", "fd77::" + host + "/64")
                : on.attach("p" + name, "10.77.0." + host + "/24");
        podNames.put(pod, name);
        return pod;
    }

    private void deleteDir() throws IOException {
        if (dir == null) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
        dir = null;
    }
}
