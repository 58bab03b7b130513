package io.nodemesh.bench.identity;

import io.netty.buffer.ByteBuf;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandler;
import io.nodemesh.proxy.identity.IdentityException;
import io.nodemesh.proxy.identity.IssuedCertificate;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.model.SpiffeId;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What a workload certificate costs the identity thread: {@link MeshCa#issue} (a P-256 key pair, a leaf built and
 * signed) and {@link MeshTls#of} (BoringSSL client and server contexts for it). Both run once per service account at
 * capture and at every renewal, never on an event loop; the second is why {@link MeshTls} is built once per
 * certificate and shared by its connections. And what each new mesh connection costs an event loop: {@code
 * handshake}, one mutual TLS 1.3 handshake, client and server together, bytes passed in memory (both peers' chains
 * verified against the mesh CA and their SPIFFE ids checked).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseCompactObjectHeaders"})
public class IdentityBenchmark {

    private static final SpiffeId ID = new SpiffeId("cluster.local", "pay", "payments");

    private static final SpiffeId SERVER = new SpiffeId("cluster.local", "web", "frontend");

    private MeshCa ca;
    private IssuedCertificate issued;
    private MeshTls clientTls;
    private MeshTls serverTls;

    @Setup
    public void setUp() throws IdentityException {
        ca = MeshCa.create("cluster.local", Duration.ofDays(1));
        issued = ca.issue(ID, Duration.ofHours(24));
        clientTls = MeshTls.of(issued);
        serverTls = MeshTls.of(ca.issue(SERVER, Duration.ofHours(24)));
    }

    @Benchmark
    public IssuedCertificate issueLeaf() throws IdentityException {
        return ca.issue(ID, Duration.ofHours(24));
    }

    @Benchmark
    public MeshTls buildTlsContexts() throws IdentityException {
        return MeshTls.of(issued);
    }

    @Benchmark
    public boolean handshake() {
        EmbeddedChannel client = new EmbeddedChannel();
        EmbeddedChannel server = new EmbeddedChannel();
        try {
            SslHandler c = clientTls.newClientHandler(client.alloc(), SERVER);
            SslHandler s = serverTls.newServerHandler(server.alloc());
            client.pipeline().addLast(c);
            server.pipeline().addLast(s);
            for (int i = 0; i < 10 && !(c.handshakeFuture().isDone() && s.handshakeFuture().isDone()); i++) {
                pass(client, server);
                pass(server, client);
            }
            if (!c.handshakeFuture().isSuccess() || !s.handshakeFuture().isSuccess()) {
                throw new IllegalStateException("handshake failed", c.handshakeFuture().cause());
            }
            return true;
        } finally {
            client.finishAndReleaseAll();
            server.finishAndReleaseAll();
        }
    }

    private static void pass(EmbeddedChannel from, EmbeddedChannel to) {
        for (ByteBuf b; (b = from.readOutbound()) != null; ) {
            to.writeInbound(b);
        }
    }
}
