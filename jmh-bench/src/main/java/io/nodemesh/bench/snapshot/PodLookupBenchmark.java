package io.nodemesh.bench.snapshot;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
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
 * {@link MeshSnapshot#podByIp}: the snapshot lookup telemetry and policy do for a connection's
 * addresses, with 10, 100 and 1000 pods on the node. Addresses are looked up in a rotating order
 * (a fresh {@link InetAddress} per connection is the data path's business, not the lookup's, so
 * the keys are built once).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseCompactObjectHeaders"})
public class PodLookupBenchmark {

    @Param({"10", "100", "1000"})
    public int pods;

    private MeshSnapshot config;
    private InetAddress[] known;
    private InetAddress unknown;
    private int next;

    @Setup
    public void setUp() throws UnknownHostException {
        known = new InetAddress[pods];
        for (int i = 0; i < pods; i++) {
            known[i] = SyntheticPods.address(i); // not the objects the snapshot holds, as a connection's would not be
        }
        config = new MeshSnapshot(ProxySettings.defaults(), SyntheticPods.pods(pods));
        unknown = InetAddress.getByAddress(new byte[] {10, 78, 0, 1});
    }

    /** A pod's address (the common case: the source of an outbound connection). */
    @Benchmark
    public Optional<PodSpec> hit() {
        int i = next;
        next = i + 1 == known.length ? 0 : i + 1;
        return config.podByIp(known[i]);
    }

    /** An address outside the mesh (a destination that is not a pod). */
    @Benchmark
    public Optional<PodSpec> miss() {
        return config.podByIp(unknown);
    }
}
