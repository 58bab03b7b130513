package io.nodemesh.bench.route;

import io.nodemesh.bench.snapshot.SyntheticPods;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.route.Route;
import io.nodemesh.proxy.route.RouteDecider;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * {@link RouteDecider#decide}: the route decision every outbound connection makes on its event loop, with 10, 100
 * and 1000 pods in the snapshot. A destination outside the mesh (pass-through, the common case today) should
 * allocate nothing; a meshed pod allocates its {@code Route.Tunnel} and identity. Run with {@code -prof gc}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseCompactObjectHeaders"})
public class RouteDecisionBenchmark {

    @Param({"10", "100", "1000"})
    public int pods;

    private final RouteDecider decider = RouteDecider.defaultTrustDomain();
    private MeshSnapshot snapshot;
    private PodSpec source;
    private InetSocketAddress[] meshed;
    private InetSocketAddress outside;
    private int next;

    @Setup
    public void setUp() throws UnknownHostException {
        List<PodSpec> specs = SyntheticPods.pods(pods);
        meshed = new InetSocketAddress[pods];
        for (int i = 0; i < pods; i++) {
            // The connection's destination is its own object, as SO_ORIGINAL_DST builds it.
            meshed[i] = new InetSocketAddress(SyntheticPods.address(i), 8080);
        }
        snapshot = new MeshSnapshot(ProxySettings.defaults(), specs);
        source = specs.get(0);
        outside = new InetSocketAddress(InetAddress.getByAddress(new byte[] {93, (byte) 184, (byte) 216, 34}), 443);
    }

    /** A destination outside the mesh. */
    @Benchmark
    public Route passthrough() {
        return decider.decide(snapshot, source, outside);
    }

    /** A captured pod of the mesh, in a rotating order. */
    @Benchmark
    public Route meshedPod() {
        int i = next;
        next = i + 1 == meshed.length ? 0 : i + 1;
        return decider.decide(snapshot, source, meshed[i]);
    }
}
