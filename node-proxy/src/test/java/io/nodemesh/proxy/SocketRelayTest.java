package io.nodemesh.proxy;

import static io.nodemesh.proxy.MeshExtension.await;
import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import io.nodemesh.proxy.relay.SocketConnection;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.testing.OwnThreads;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What the epoll transport's socket relay ({@link SocketConnection}) does beyond what {@link CaptureTest} holds every
 * transport to: a plain captured connection is one, a bulk transfer goes through pipes both ways and leaves none
 * behind, and a client that resets while the upstream is still connecting ends it then, not at the connect timeout.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SocketRelayTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();
    @RegisterExtension
    static final MeshExtension mesh = new MeshExtension();

    @Test
    void aPlainCapturedConnectionIsRelayedBetweenSockets() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().capture(a), x -> x.transport(TransportKind.EPOLL));
        EchoServer echo = mesh.own(EchoServer.start(b, 8080));
        a.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
                s.getOutputStream().write(7);
                assertThat(s.getInputStream().read()).isEqualTo(7);
                assertThat(node.proxy.pods().getFirst().connections())
                        .singleElement().isInstanceOf(SocketConnection.class);
            }
            return null;
        });
        await("closed", () -> node.closed.size() == 1);
        assertThat(node.closed.peek().outcome()).isEqualTo(Outcome.OK);
        assertThat(echo).isNotNull();
    }

    @Test
    void aClientThatResetsWhileTheUpstreamConnectsEndsTheConnectionThen() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().connectTimeout("20s").capture(a), x -> x.transport(TransportKind.EPOLL));
        // b answers nothing: the proxy's upstream connect hangs for its whole 20 s timeout.
        b.execOk("nft", "add table inet silent");
        b.execOk("nft", "add chain inet silent in { type filter hook input priority -300 ; policy drop ; }");
        long start = System.nanoTime();
        a.call(() -> {
            Socket s = new Socket();
            s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
            await("the proxy holds it", () -> node.proxy.pods().getFirst().connections().size() == 1);
            s.setSoLinger(true, 0);
            s.close(); // RST
            return null;
        });
        await("recorded", () -> node.closed.size() == 1);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)).isLessThan(10_000);
        ClosedConnection record = node.closed.peek();
        assertThat(record.outcome()).isEqualTo(Outcome.RESET);
        assertThat(record.endedBy()).isEqualTo(Side.DOWNSTREAM);
        await("no connection left", () -> node.proxy.pods().getFirst().connections().isEmpty());
    }

    @Test
    void bulkTransfersAreSplicedThroughPipesThatCloseWithTheConnection() throws Exception {
        Netns a = mesh.pod("a");
        Netns b = mesh.pod("b");
        TestNode node = mesh.start(mesh.config().capture(a), x -> x.transport(TransportKind.EPOLL));
        long size = 24L * 1024 * 1024;
        ServerSocketChannel listener = mesh.own(b.call(() ->
                ServerSocketChannel.open().bind(new InetSocketAddress(8080))));
        Set<String> pipesBefore = OpenPipes.now();
        Set<String> spliced = ConcurrentHashMap.newKeySet();
        // The server holds off reading for a while, so that the client's bytes back up in the proxy (bulk: the proxy
        // splices them through a pipe, and back-pressure holds one pipe's worth there), then reads them all, then
        // sends as many back and closes. (Not "until a pipe is there": a first write the server's socket takes only
        // in part leaves that direction copying until the server reads.)
        CompletableFuture<long[]> server = CompletableFuture.supplyAsync(() -> {
            try (SocketChannel ch = listener.accept()) {
                Thread.sleep(1500);
                CRC32 crc = new CRC32();
                ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
                long n = 0;
                for (int r; (r = ch.read(buf.clear())) >= 0; ) {
                    crc.update(buf.flip());
                    n += r;
                }
                return new long[] {n, crc.getValue(), send(java.nio.channels.Channels.newOutputStream(ch), size, 29)};
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        }, OwnThreads.EACH);
        // The pipes opened while the bytes go both ways.
        CompletableFuture<Void> transferred = new CompletableFuture<>();
        CompletableFuture<Void> watched = CompletableFuture.runAsync(() -> {
            while (!transferred.isDone()) {
                spliced.addAll(OpenPipes.since(pipesBefore));
                LockSupport.parkNanos(5_000_000);
            }
        }, OwnThreads.EACH);
        long[] client = a.call(() -> {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(b.ipv4(), 8080), 10_000);
                CompletableFuture<Long> sending = CompletableFuture.supplyAsync(() -> {
                    try {
                        long sent = send(s.getOutputStream(), size, 23);
                        s.shutdownOutput();
                        return sent;
                    } catch (IOException e) {
                        throw new CompletionException(e);
                    }
                }, OwnThreads.EACH);
                CRC32 crc = new CRC32();
                byte[] buf = new byte[64 * 1024];
                long n = 0;
                InputStream in = s.getInputStream();
                for (int r; (r = in.read(buf)) >= 0; ) {
                    crc.update(buf, 0, r);
                    n += r;
                }
                return new long[] {sending.get(30, TimeUnit.SECONDS), n, crc.getValue()};
            }
        });
        long[] got = server.get(60, TimeUnit.SECONDS);
        assertThat(got[0]).as("bytes the server got").isEqualTo(size);
        assertThat(got[1]).as("the upload's CRC").isEqualTo(client[0]);
        assertThat(client[1]).as("bytes the client got").isEqualTo(size);
        assertThat(client[2]).as("the download's CRC").isEqualTo(got[2]);
        await("closed", () -> node.closed.size() == 1);
        ClosedConnection record = node.closed.peek();
        assertThat(record.outcome()).isEqualTo(Outcome.OK);
        assertThat(record.bytesFromSource()).isEqualTo(size);
        assertThat(record.bytesToSource()).isEqualTo(size);
        transferred.complete(null);
        watched.get(10, TimeUnit.SECONDS);
        assertThat(spliced).as("pipes the proxy spliced the transfer through").isNotEmpty();
        await("no pipe left behind", () -> OpenPipes.allClosed(spliced));
    }

    /** Writes {@code size} random bytes from {@code seed}; their CRC. */
    private static long send(OutputStream out, long size, long seed) throws IOException {
        CRC32 crc = new CRC32();
        byte[] chunk = new byte[64 * 1024];
        Random random = new Random(seed);
        for (long n = 0; n < size; n += chunk.length) {
            random.nextBytes(chunk);
            crc.update(chunk);
            out.write(chunk);
        }
        return crc.getValue();
    }
}
