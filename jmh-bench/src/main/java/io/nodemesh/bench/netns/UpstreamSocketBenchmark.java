package io.nodemesh.bench.netns;

import io.netty.channel.Channel;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.inpod.NamespacedChannelFactory;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.transport.TransportKind;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The upstream socket of one plain outbound connection as the proxy makes it, with and without TCP keepalive: the
 * epoll transport's channel factory (enter the pod's namespace, {@code socket()}, leave, Netty's channel, the mark,
 * then the four keepalive options), and the socket closed again. Needs root; makes its own namespace and removes it.
 *
 * <pre>java -jar jmh-bench/target/benchmarks.jar UpstreamSocketBenchmark -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseCompactObjectHeaders",
        "--sun-misc-unsafe-memory-access=allow"})
public class UpstreamSocketBenchmark {

    @Param({"off", "on"})
    public String keepalive;

    private BenchNamespace pod;
    private NamespacedChannelFactory<Channel> channels;

    @Setup(Level.Trial)
    public void createNamespace() throws Exception {
        pod = new BenchNamespace("nmjmhup");
        Transport epoll = Transport.select(TransportKind.EPOLL, notice -> {
            throw new IllegalStateException("epoll is needed: " + notice);
        });
        TcpKeepalive k = keepalive.equals("on") ? TcpKeepalive.defaults() : TcpKeepalive.off();
        channels = epoll.socketChannels(pod.handle(), 0x539, () -> true, () -> k);
    }

    @TearDown(Level.Trial)
    public void removeNamespace() throws Exception {
        pod.close();
    }

    @Benchmark
    public void upstreamSocket() {
        channels.newChannel().unsafe().closeForcibly();
    }
}
