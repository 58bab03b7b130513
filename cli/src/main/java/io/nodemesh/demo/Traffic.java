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
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.Future;
import java.util.zip.CRC32;

/** The demo's client side: connections from the frontend pod to the backend, every byte checksummed. */
final class Traffic {

    /** How long a connection may go without receiving a byte before the demo gives up on it. */
    static final int STALL_MILLIS = 15_000;

    /** What the client saw: {@code stalled} connections received nothing for {@link #STALL_MILLIS} and were given up. */
    record Result(int ipv4, int ipv6, int intact, int stalled, long elapsedMillis) {
    }

    /** How one connection ended. */
    private enum Echo { INTACT, DAMAGED, STALLED }

    private Traffic() {
    }

    /**
     * Opens {@code connections} sockets inside {@code from}'s namespace to {@code to}'s addresses
     * (every fifth over IPv6), sends {@code bytes} seeded random bytes on each, half-closes, and
     * checks the echo byte for byte by CRC32, counting what moves in {@code progress}.
     */
    static Result run(Netns from, Netns to, int port, int connections, int bytes, Progress progress) throws Exception {
        return run(from, to, port, connections, bytes, progress, STALL_MILLIS);
    }

    /** The same, giving up on a connection that receives nothing for {@code stallMillis}. */
    static Result run(Netns from, Netns to, int port, int connections, int bytes, Progress progress, int stallMillis)
            throws Exception {
        long start = System.nanoTime();
        List<Socket> sockets = from.call(() -> {
            List<Socket> list = new ArrayList<>();
            for (int i = 0; i < connections; i++) {
                InetAddress dst = (i % 5 == 4 && to.ipv6() != null) ? to.ipv6() : to.ipv4();
                Socket s = new Socket();
                s.connect(new InetSocketAddress(dst, port), 5000);
                s.setSoTimeout(stallMillis);
                list.add(s);
            }
            return list;
        });
        int v6 = 0;
        List<Future<Echo>> results = new ArrayList<>();
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
            int stalled = 0;
            for (Future<Echo> f : results) {
                Echo echo = f.get();
                intact += echo == Echo.INTACT ? 1 : 0;
                stalled += echo == Echo.STALLED ? 1 : 0;
            }
            return new Result(connections - v6, v6, intact, stalled, (System.nanoTime() - start) / 1_000_000);
        }
    }

    private static Echo exchange(Socket s, long seed, int bytes, Progress progress) throws Exception {
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
            try {
                for (int n; (n = in.read(buf)) >= 0; ) {
                    received.update(buf, 0, n);
                    progress.received(n);
                    total += n;
                }
            } catch (SocketTimeoutException e) {
                s.close(); // unblocks the writer, if it is still writing
                writer.join();
                return Echo.STALLED;
            }
            writer.join();
            return total == bytes && received.getValue() == sent.getValue() ? Echo.INTACT : Echo.DAMAGED;
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
