package io.nodemesh.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelOption;
import io.nodemesh.proxy.LeakGuard;
import io.nodemesh.proxy.model.Outcome;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** App connections through a tunnel on loopback: bytes, pooling, half-close, resets and the server's answers. */
@Timeout(60)
class TunnelTest {

    @RegisterExtension
    static final LeakGuard leaks = new LeakGuard();

    @Test
    void bytesCrossTheTunnelIntactBothWaysAndTheServerLearnsTheClient() throws Exception {
        try (AppServer app = AppServer.echo(); TunnelRig rig = TunnelRig.plain()) {
            InetSocketAddress front = rig.front(app.address());
            byte[] sent = random(3 << 20, 1);
            try (Socket client = connect(front)) {
                byte[] back = exchange(client, sent);
                assertThat(Arrays.equals(back, sent)).as("echoed bytes equal sent bytes").isTrue();
            }
            assertThat(rig.front.next()).isEqualTo(Outcome.OK);
            assertThat(rig.server.next()).isEqualTo(Outcome.OK);
            assertThat(rig.askedFor).extracting(a -> a.getAddress()).containsExactly(TunnelRig.LOOPBACK);
            assertThat(rig.tunnelConnections).hasValue(1);
        }
    }

    @Test
    void aStreamWhoseTunnelConnectionDiesIsResetOnBothSidesNotEnded() throws Exception {
        CountDownLatch appSawTheEnd = new CountDownLatch(1);
        AtomicReference<String> appSaw = new AtomicReference<>();
        AppServer.App echoOnce = s -> {
            s.getOutputStream().write(s.getInputStream().readNBytes(5));
            try {
                appSaw.set(s.getInputStream().read() < 0 ? "end of stream" : "more bytes");
            } catch (SocketException e) {
                appSaw.set("reset");
            }
            appSawTheEnd.countDown();
        };
        try (AppServer app = AppServer.start(echoOnce); TunnelRig rig = TunnelRig.plain()) {
            InetSocketAddress front = rig.front(app.address());
            try (Socket client = connect(front)) {
                client.getOutputStream().write("hello".getBytes());
                assertThat(client.getInputStream().readNBytes(5)).isEqualTo("hello".getBytes());

                // The tunnel connection under the stream is cut (RST from the server's end): the client's data did not
                // end, so neither end of the relayed connection may read a FIN.
                Channel tunnel = rig.serverTunnels.getFirst();
                tunnel.config().setOption(ChannelOption.SO_LINGER, 0);
                tunnel.close().sync();

                assertThatThrownBy(() -> client.getInputStream().read()).isInstanceOf(SocketException.class);
                assertThat(appSawTheEnd.await(10, TimeUnit.SECONDS)).isTrue();
                assertThat(appSaw).hasValue("reset");
            }
            assertThat(rig.front.next()).as("the client's side: its tunnel connection was reset").isEqualTo(Outcome.RESET);
            assertThat(rig.server.next()).as("the app's side").isNotEqualTo(Outcome.OK);
        }
    }

    @Test
    void aStreamWhosePeerStopsAnsweringPingsIsResetAsPeerLost() throws Exception {
        TunnelSettings pingy = TunnelSettings.defaults().withPing(Duration.ofMillis(200), Duration.ofMillis(300));
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(pingy, TunnelSettings.defaults(), new PlaintextSecurity(TunnelRig.SOURCE),
                     TunnelAuthorizer.ALLOW_ALL)) {
            InetSocketAddress front = rig.front(app.address());
            try (Socket client = connect(front)) {
                client.getOutputStream().write("hello".getBytes());
                assertThat(client.getInputStream().readNBytes(5)).isEqualTo("hello".getBytes());

                // The far proxy hangs: its tunnel connection leaves its event loop, the kernel still takes the bytes, but
                // no PING is answered.
                Channel hung = rig.serverTunnels.getFirst();
                hung.deregister().sync();
                try {
                    assertThatThrownBy(() -> client.getInputStream().read()).isInstanceOf(SocketException.class);
                } finally {
                    rig.group.register(hung).sync();
                    hung.close().sync();
                }
            }
            assertThat(rig.front.next()).isEqualTo(Outcome.PEER_LOST);
        }
    }

    @Test
    void aBurstOf120FirstConnectionsRidesOneTunnelConnection() throws Exception {
        TunnelSettings roomy = TunnelSettings.defaults().withMaxStreamsPerConnection(200);
        CountDownLatch allOpen = new CountDownLatch(120);
        CountDownLatch release = new CountDownLatch(1);
        AppServer.App holdThenEcho = s -> {
            allOpen.countDown();
            release.await();
            AppServer.copy(s.getInputStream(), s.getOutputStream());
            s.shutdownOutput();
        };
        try (AppServer app = AppServer.start(holdThenEcho);
             TunnelRig rig = new TunnelRig(roomy, roomy, new PlaintextSecurity(TunnelRig.SOURCE),
                     TunnelAuthorizer.ALLOW_ALL);
             ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
            InetSocketAddress front = rig.front(app.address());
            CountDownLatch start = new CountDownLatch(1);
            List<Future<Boolean>> results = new ArrayList<>();
            for (int i = 0; i < 120; i++) {
                byte[] sent = random(64 * 1024, i);
                results.add(clients.submit(() -> {
                    start.await();
                    try (Socket client = connect(front)) {
                        return Arrays.equals(exchange(client, sent), sent);
                    }
                }));
            }
            start.countDown();
            assertThat(allOpen.await(20, TimeUnit.SECONDS)).as("all 120 streams reached the app").isTrue();
            assertThat(rig.pool.connectionCount()).isEqualTo(1);
            release.countDown();
            for (Future<Boolean> r : results) {
                assertThat(r.get()).isTrue();
            }
            assertThat(rig.tunnelConnections).hasValue(1);
        }
    }

    @Test
    void streamsBeyondTheServersLimitOpenASecondConnection() throws Exception {
        TunnelSettings serverAllowsThree = TunnelSettings.defaults().withMaxStreamsPerConnection(3);
        CountDownLatch allOpen = new CountDownLatch(5);
        CountDownLatch release = new CountDownLatch(1);
        try (AppServer app = AppServer.start(s -> {
                allOpen.countDown();
                release.await();
            });
             TunnelRig rig = new TunnelRig(TunnelSettings.defaults(), serverAllowsThree,
                     new PlaintextSecurity(TunnelRig.SOURCE), TunnelAuthorizer.ALLOW_ALL)) {
            InetSocketAddress front = rig.front(app.address());
            List<Socket> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 5; i++) {
                    clients.add(connect(front));
                }
                assertThat(allOpen.await(10, TimeUnit.SECONDS)).as("all 5 streams reached the app").isTrue();
                assertThat(rig.tunnelConnections).hasValue(2);
                assertThat(rig.pool.connectionCount()).isEqualTo(2);
                // The app may accept its fifth connection a moment before the server answers that stream's 200.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (!rig.stats.totals(0).report().get("server").toString().contains("200=5")
                        && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                Map<String, Object> counted = rig.stats.totals(rig.pool.connectionCount()).report();
                assertThat(counted.get("client")).asString().contains("connections=2", "streams=5");
                assertThat(counted.get("server")).asString().contains("connections=2", "handshakeFailures=0",
                        "200=5");
            } finally {
                release.countDown();
                for (Socket c : clients) {
                    c.close();
                }
            }
        }
    }

    @Test
    void theClientsHalfCloseReachesTheAppWhichStillAnswers() throws Exception {
        byte[] answer = random(1 << 20, 7);
        try (AppServer app = AppServer.start(s -> {
                long got = s.getInputStream().transferTo(OutputStream.nullOutputStream()); // until the FIN
                s.getOutputStream().write(answer);
                s.getOutputStream().write(Long.toString(got).getBytes());
                s.shutdownOutput();
            });
             TunnelRig rig = TunnelRig.plain()) {
            InetSocketAddress front = rig.front(app.address());
            try (Socket client = connect(front)) {
                client.getOutputStream().write(random(100_000, 8));
                client.shutdownOutput();
                byte[] back = client.getInputStream().readAllBytes(); // until the app's FIN
                assertThat(Arrays.copyOf(back, answer.length)).isEqualTo(answer);
                assertThat(new String(back, answer.length, back.length - answer.length)).isEqualTo("100000");
            }
            assertThat(rig.front.next()).isEqualTo(Outcome.OK);
            assertThat(rig.server.next()).isEqualTo(Outcome.OK);
        }
    }

    @Test
    void theAppsHalfCloseReachesTheClientWhichStillSends() throws Exception {
        try (AppServer app = AppServer.start(s -> {
                s.getOutputStream().write("hello".getBytes());
                s.shutdownOutput();
                long got = s.getInputStream().transferTo(OutputStream.nullOutputStream());
                if (got != 200_000) {
                    throw new IOException("app got " + got + " bytes, not 200000");
                }
            });
             TunnelRig rig = TunnelRig.plain()) {
            InetSocketAddress front = rig.front(app.address());
            try (Socket client = connect(front)) {
                assertThat(client.getInputStream().readAllBytes()).isEqualTo("hello".getBytes());
                client.getOutputStream().write(random(200_000, 9));
                client.shutdownOutput();
            }
            assertThat(rig.front.next()).isEqualTo(Outcome.OK);
            assertThat(rig.server.next()).isEqualTo(Outcome.OK);
            assertThat(app.failures).isEmpty();
        }
    }

    @Test
    void aClientsResetReachesTheAppAsAReset() throws Exception {
        CountDownLatch reading = new CountDownLatch(1);
        List<Throwable> appSaw = new ArrayList<>();
        CountDownLatch appDone = new CountDownLatch(1);
        try (AppServer app = AppServer.start(s -> {
                try {
                    s.getInputStream().read(new byte[5]);
                    reading.countDown();
                    s.getInputStream().read(new byte[5]);
                } catch (IOException e) {
                    appSaw.add(e);
                } finally {
                    appDone.countDown();
                }
            });
             TunnelRig rig = TunnelRig.plain()) {
            InetSocketAddress front = rig.front(app.address());
            Socket client = connect(front);
            client.getOutputStream().write("hello".getBytes());
            assertThat(reading.await(5, TimeUnit.SECONDS)).isTrue();
            client.setSoLinger(true, 0);
            client.close(); // RST
            assertThat(appDone.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(appSaw).singleElement().isInstanceOf(SocketException.class);
            assertThat(rig.front.next()).isEqualTo(Outcome.RESET);
            assertThat(rig.server.next()).isEqualTo(Outcome.RESET);
        }
    }

    @Test
    void anAppsResetReachesTheClientAsAReset() throws Exception {
        try (AppServer app = AppServer.start(s -> {
                s.getInputStream().read(new byte[5]);
                s.setSoLinger(true, 0);
                s.close(); // RST
            });
             TunnelRig rig = TunnelRig.plain()) {
            InetSocketAddress front = rig.front(app.address());
            try (Socket client = connect(front)) {
                client.getOutputStream().write("hello".getBytes());
                assertThatThrownBy(() -> client.getInputStream().read()).isInstanceOf(SocketException.class);
            }
            assertThat(rig.server.next()).isEqualTo(Outcome.RESET);
            assertThat(rig.front.next()).isEqualTo(Outcome.RESET);
        }
    }

    @Test
    void anUnreachableAppIsAnswered503AndTheClientIsReset() throws Exception {
        InetSocketAddress nobody;
        try (AppServer gone = AppServer.echo()) {
            nobody = gone.address();
        }
        try (TunnelRig rig = TunnelRig.plain()) {
            InetSocketAddress front = rig.front(nobody);
            // The reset may come while the client is still connecting, or on its first read.
            assertThatThrownBy(() -> {
                try (Socket client = connect(front)) {
                    client.getInputStream().read();
                }
            }).isInstanceOf(SocketException.class);
            assertThat(rig.front.next()).isEqualTo(Outcome.REFUSED);
            assertThat(rig.server.next()).isEqualTo(Outcome.REFUSED);
        }
    }

    @Test
    void aDeniedStreamWithoutAnIdentityIsAnswered401AndTheClientIsReset() throws Exception {
        TunnelAuthorizer strangersOut = (peer, client, destination) -> peer == null ? "no identity" : null;
        try (AppServer app = AppServer.echo();
             TunnelRig rig = new TunnelRig(TunnelSettings.defaults(), TunnelSettings.defaults(),
                     new PlaintextSecurity(null), strangersOut)) {
            InetSocketAddress front = rig.front(app.address());
            // The reset may come while the client is still connecting, or on its first read.
            assertThatThrownBy(() -> {
                try (Socket client = connect(front)) {
                    client.getInputStream().read();
                }
            }).isInstanceOf(SocketException.class);
            assertThat(rig.front.next()).isEqualTo(Outcome.DENIED);
            assertThat(rig.server.next()).isEqualTo(Outcome.DENIED);
            // The answer itself, as the pool reports it:
            io.netty.util.concurrent.Future<?> open = rig.pool.openStream(
                    new TunnelKey(TunnelRig.SOURCE, TunnelRig.DESTINATION, app.address()), null,
                    rig.group.next(), new io.netty.channel.ChannelInboundHandlerAdapter());
            assertThat(open.await(5, TimeUnit.SECONDS)).isTrue();
            assertThat(open.cause()).isInstanceOfSatisfying(TunnelRefused.class, r -> assertThat(r.status()).isEqualTo(401));
            assertThat(rig.stats.totals(rig.pool.connectionCount()).report().get("server")).asString().contains("401=2");
        }
    }

    static Socket connect(InetSocketAddress front) throws IOException {
        Socket s = new Socket();
        s.connect(front, 5000);
        s.setSoTimeout(20_000);
        return s;
    }

    /** Sends {@code data} and FIN from one thread while reading everything back until the peer's FIN. */
    static byte[] exchange(Socket socket, byte[] data) throws Exception {
        Thread writer = Thread.ofVirtual().start(() -> {
            try {
                socket.getOutputStream().write(data);
                socket.shutdownOutput();
            } catch (IOException ignored) {
                // the read side reports what went wrong
            }
        });
        byte[] back = socket.getInputStream().readAllBytes();
        writer.join();
        return back;
    }

    static byte[] random(int length, long seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }
}
