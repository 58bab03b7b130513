package io.nodemesh.bench.netns;

import io.nodemesh.linux.NetworkNamespace;
import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the proxy pays per upstream connection to create its socket inside a pod's network
 * namespace: entering and leaving ({@code setns} twice), and a socket created there versus one
 * created in place. Needs root; makes its own namespace and removes it.
 *
 * <pre>java -jar jmh-bench/target/benchmarks.jar NamespaceEntryBenchmark -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseCompactObjectHeaders"})
public class NamespaceEntryBenchmark {

    private BenchNamespace namespace;
    private NetworkNamespace pod;

    @Setup(Level.Trial)
    public void createNamespace() throws Exception {
        namespace = new BenchNamespace("nmjmh");
        pod = namespace.handle();
    }

    @TearDown(Level.Trial)
    public void removeNamespace() throws Exception {
        namespace.close();
    }

    @Benchmark
    public Object enterAndLeave() throws Exception {
        return pod.call(() -> Boolean.TRUE);
    }

    @Benchmark
    public void socketInPodNamespace() throws Exception {
        pod.call(SocketChannel::open).close();
    }

    @Benchmark
    public void socketInPlace() throws IOException {
        SocketChannel.open().close();
    }
}
