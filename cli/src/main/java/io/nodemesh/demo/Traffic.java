package io.nodemesh.demo;

import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.topology.Netns;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

/** The demo's client side: connections from the frontend pod to the backend, every byte checksummed. */
final class Traffic {

    /** What the client saw. */
    record Result(int ipv4, int ipv6, int intact, long elapsedMillis) {
    }

    private Traffic() {
    }

    /**
     * Opens {@code connections} sockets inside {@code from}'s namespace to {@code to}'s addresses
     * (every fifth over IPv6), sends {@code bytes} seeded random bytes on each, half-closes, and
     * checks the echo byte for byte by CRC32, counting what moves in {@code progress}.
     */
    static Result run(Netns from, Netns to, int port, int connections, int bytes, Progress progress) throws Exception {
        long start = System.nanoTime();
        List<Socket> sockets = from.call(() -> {
            List<Socket> list = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                InetAddress dst = (i % 5 == 4 && to.ipv6() != null) ? to.ipv6() : to.ipv4();
                Socket s = new Socket();
                s.connect(new InetSocketAddress(dst, port), 5000);
                s.setSoTimeout(15_000);
                list.add(s);
            }
            return list;
        });
        int v6 = 0;
        List<Future<Boolean>> results = new ArrayList<>();
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < sockets.size(); i++) {
                Socket s = sockets.get(i);
                if (s.getInetAddress() instanceof java.net.Inet6Address) {
                    v6++;
                }
                long seed = i;
                results.add(pool.submit(() -> {
                    try {
                        return exchange(s, seed, bytes, progress);
                    } finally {
                        progress.connectionDone();
                    }
                }));
            }
            int intact = 0;
            for (Future<Boolean> f : results) {
                if (f.get(60, TimeUnit.SECONDS)) {
                    intact++;
                }
            }
            return new Result(connections - v6, v6, intact, (System.nanoTime() - start) / 1_000_000);
        }
    }

    private static boolean exchange(Socket s, long seed, int bytes, Progress progress) throws Exception {
        try (s) {
            CRC32 sent = new CRC32();
            Thread writer = Thread.ofVirtual().start(() -> {
                try {
                    OutputStream out = s.getOutputStream();
                    SplittableRandom random = new SplittableRandom(seed);
                    byte[] chunk = new byte[8192];
                    for (int left = bytes; left > 0; ) {
                        int n = Math.min(left, chunk.length);
                        for (int j = 0; j < n; j++) {
                            chunk[j] = (byte) random.nextInt(256);
                        }
                        sent.update(chunk, 0, n);
                        out.write(chunk, 0, n);
                        progress.sent(n);
                        left -= n;
                    }
                    s.shutdownOutput();
                } catch (Exception e) {
                    // the reader below sees the failure as a short or bad echo
                }
            });
            CRC32 received = new CRC32();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[8192];
            long total = 0;
            for (int n; (n = in.read(buf)) >= 0; ) {
                received.update(buf, 0, n);
                progress.received(n);
                total += n;
            }
            writer.join();
            return total == bytes && received.getValue() == sent.getValue();
        }
    }

    /**
     * Waits until the proxy has counted at least {@code count} finished connections (both
     * directions), then returns the most recent ones it remembers.
     */
    static List<ClosedConnection> awaitClosed(NodeProxy proxy, long count, Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        while (closed(proxy) < count && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        return proxy.nodeStats().recent();
    }

    private static long closed(NodeProxy proxy) {
        return proxy.nodeStats().direction(Direction.OUTBOUND).snapshot().closed()
                + proxy.nodeStats().direction(Direction.INBOUND).snapshot().closed();
    }
}
