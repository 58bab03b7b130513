package io.nodemesh.bench.snapshot;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import io.nodemesh.proxy.discovery.ServiceTarget;
import io.nodemesh.proxy.route.EndpointLoad;
import io.nodemesh.proxy.route.Route;
import io.nodemesh.proxy.route.RouteDecider;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.List;
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
 * The mesh at cluster scale, as one node's proxy holds it: 100 000 pods (100 of them this node's) and 10 000 services
 * of 10 endpoints each. Lookups by destination address and port as the route decision makes them (goal: at most 50
 * ns, nothing allocated; run with {@code -prof gc}), the whole decision for a service (balancing included), and a
 * rebuild of the snapshot from the source's lists (goal: at most 200 ms).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseCompactObjectHeaders", "-Xmx2g"})
public class MeshScaleBenchmark {

    @Param({"100000"})
    public int pods;

    @Param({"10000"})
    public int services;

    private List<PodSpec> podList;
    private List<ServiceSpec> serviceList;
    private MeshSnapshot snapshot;
    private final RouteDecider decider = RouteDecider.defaultTrustDomain();
    private PodSpec source;
    private InetSocketAddress[] podDestinations;
    private InetSocketAddress[] serviceDestinations;
    private int nextPod;
    private int nextService;

    @Setup
    public void setUp() throws UnknownHostException {
        podList = SyntheticPods.cluster(pods, 100);
        serviceList = SyntheticPods.services(services, podList);
        snapshot = rebuild();
        source = podList.getFirst();
        // 4096 of each, spread over the whole snapshot; each its own object, as SO_ORIGINAL_DST builds it.
        podDestinations = new InetSocketAddress[4096];
        serviceDestinations = new InetSocketAddress[4096];
        for (int i = 0; i < 4096; i++) {
            podDestinations[i] = new InetSocketAddress(SyntheticPods.address((int) ((long) i * pods / 4096)), 8080);
            serviceDestinations[i] = new InetSocketAddress(
                    SyntheticPods.serviceAddress((int) ((long) i * services / 4096)), 80);
        }
    }

    /** A pod by its address among 100 000. */
    @Benchmark
    public Optional<PodSpec> podLookup() {
        int i = nextPod;
        nextPod = (i + 1) & 4095;
        return snapshot.podByIp(podDestinations[i].getAddress());
    }

    /** A service port by address and port among 10 000 services. */
    @Benchmark
    public ServiceTarget serviceLookup() {
        int i = nextService;
        nextService = (i + 1) & 4095;
        InetSocketAddress d = serviceDestinations[i];
        return snapshot.serviceAt(d.getAddress(), d.getPort());
    }

    /** The whole decision for a service address: lookup, power of two choices, the route; the lease released. */
    @Benchmark
    public Route serviceDecision() {
        int i = nextService;
        nextService = (i + 1) & 4095;
        Route r = decider.decide(snapshot, source, serviceDestinations[i]);
        EndpointLoad.Lease lease = r.lease();
        lease.release();
        return r;
    }

    /** A new snapshot from the source's lists: what every (debounced) change costs the control thread. */
    @Benchmark
    @BenchmarkMode(Mode.SingleShotTime)
    @OutputTimeUnit(TimeUnit.MILLISECONDS)
    @Warmup(iterations = 3)
    @Measurement(iterations = 10)
    public MeshSnapshot rebuild() {
        return new MeshSnapshot(ProxySettings.defaults(), List.of(), podList, serviceList);
    }
}
