package io.nodemesh.proxy;

import io.nodemesh.topology.Netns;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * {@code tcpdump} on one link of a test topology, and what crossed it: every TCP stream reassembled (IPv4 over
 * Ethernet, as the test nodes' veth links carry it) and read as a sequence of TLS records. Start it before the traffic,
 * {@link #stop} it after; a test owns it ({@code mesh.own}) so it is stopped also when the test fails.
 */
final class LinkCapture implements AutoCloseable {

    /** TLS record content types: change_cipher_spec, alert, handshake, application_data. */
    private static final int CHANGE_CIPHER_SPEC = 20;
    private static final int APPLICATION_DATA = 23;
    private static final int MAX_RECORD = (1 << 14) + 256;

    private final Process tcpdump;
    private final Path file;

    private LinkCapture(Process tcpdump, Path file) {
        this.tcpdump = tcpdump;
        this.file = file;
    }

    /** Starts recording every TCP packet on {@code link} in {@code ns} into {@code file}; returns once it listens. */
    static LinkCapture start(Netns ns, String link, Path file) throws Exception {
        Process p = new ProcessBuilder("nsenter", "--net=" + ns.path(), "tcpdump", "-i", link, "-s", "0", "-B", "16384", "--immediate-mode", "-U", "-n",
                "-w", file.toString(), "tcp").redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        CompletableFuture<Void> listening = new CompletableFuture<>();
        StringBuilder said = new StringBuilder();
        Thread.ofVirtual().start(() -> {
            try (BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(),
                    StandardCharsets.UTF_8))) {
                for (String line; (line = err.readLine()) != null; ) {
                    said.append(line).append('\n');
                    if (line.contains("listening on")) {
                        listening.complete(null);
                    }
                }
            } catch (IOException e) {
                listening.completeExceptionally(e);
            }
            listening.completeExceptionally(new IllegalStateException("tcpdump ended: " + said));
        });
        LinkCapture capture = new LinkCapture(p, file);
        try {
            listening.get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            capture.close();
            throw e;
        }
        return capture;
    }

    /**
     * Stops tcpdump and reads what it recorded. tcpdump exits on SIGTERM without reading what still waits in the
     * kernel's capture buffer. Without {@code --immediate-mode} libpcap hands packets over a block at a time, a block
     * being retired only when full or after a timeout of about a second: the tail of a test's traffic sat there, and
     * was lost (the last ~60 KB of 786 KB, in CI). Even in immediate mode tcpdump can lag behind on a loaded machine,
     * so it is given time to catch up: until its file has not grown for half a second (at most 10 s).
     */
    Recording stop() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        long size = -1;
        for (long now = Files.size(file); now != size && System.nanoTime() < deadline; now = Files.size(file)) {
            size = now;
            Thread.sleep(500);
        }
        tcpdump.destroy();
        if (!tcpdump.waitFor(20, TimeUnit.SECONDS)) {
            throw new AssertionError("tcpdump did not stop");
        }
        return Recording.read(Files.readAllBytes(file));
    }

    @Override
    public void close() throws InterruptedException {
        tcpdump.destroyForcibly();
        tcpdump.waitFor(10, TimeUnit.SECONDS);
    }

    /**
     * What a capture holds: the raw file, and each direction of each TCP connection reassembled in sequence order.
     *
     * @param raw the pcap file as written
     * @param streams each direction's bytes, by (from, to), in the order the connections opened
     */
    record Recording(byte[] raw, Map<Flow, byte[]> streams) {

        /** One direction of a TCP connection. */
        record Flow(InetSocketAddress from, InetSocketAddress to) {
            @Override
            public String toString() {
                return from.getAddress().getHostAddress() + ":" + from.getPort() + " -> "
                        + to.getAddress().getHostAddress() + ":" + to.getPort();
            }
        }

        /** Whether {@code text} appears anywhere in the recorded packets, headers included. */
        boolean contains(String text) {
            byte[] needle = text.getBytes(StandardCharsets.UTF_8);
            outer:
            for (int i = 0; i + needle.length <= raw.length; i++) {
                for (int j = 0; j < needle.length; j++) {
                    if (raw[i + j] != needle[j]) {
                        continue outer;
                    }
                }
                return true;
            }
            return false;
        }

        /**
         * Why {@code flow}'s bytes are not a well-formed run of TLS 1.3 records (each with a known content type, the
         * TLS version, a believable length, the last one complete; handshake records in the clear only before the
         * first application_data), or null when they are.
         */
        String notTls(Flow flow) {
            byte[] b = streams.get(flow);
            int at = 0;
            boolean encrypted = false;
            while (at < b.length) {
                if (b.length - at < 5) {
                    return flow + ": " + (b.length - at) + " bytes after the last record at offset " + at;
                }
                int type = b[at] & 0xff;
                int version = (b[at + 1] & 0xff) << 8 | (b[at + 2] & 0xff);
                int length = (b[at + 3] & 0xff) << 8 | (b[at + 4] & 0xff);
                if (type < CHANGE_CIPHER_SPEC || type > APPLICATION_DATA || version < 0x0301 || version > 0x0303
                        || length > MAX_RECORD) {
                    return flow + ": no TLS record at offset " + at + " (type " + type + ", version "
                            + Integer.toHexString(version) + ", length " + length + ")";
                }
                if (encrypted && type != APPLICATION_DATA && type != CHANGE_CIPHER_SPEC) {
                    return flow + ": a record of type " + type + " in the clear after application data, at " + at;
                }
                encrypted |= type == APPLICATION_DATA;
                at += 5 + length;
            }
            return at == b.length ? null : flow + ": the last record runs past the end of the stream";
        }

        static Recording read(byte[] pcap) {
            ByteBuffer in = ByteBuffer.wrap(pcap);
            int magic = in.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
            if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
                in.order(ByteOrder.BIG_ENDIAN);
                if (in.getInt(0) != 0xa1b2c3d4 && in.getInt(0) != 0xa1b23c4d) {
                    throw new AssertionError("not a pcap file (magic " + Integer.toHexString(magic) + ")");
                }
            }
            if (in.getInt(20) != 1) {
                throw new AssertionError("link type " + in.getInt(20) + ", not Ethernet");
            }
            Map<Flow, Long> firstSequence = new LinkedHashMap<>();
            Map<Flow, TreeMap<Long, byte[]>> segments = new LinkedHashMap<>();
            int at = 24;
            while (at + 16 <= pcap.length) {
                int captured = in.getInt(at + 8);
                int original = in.getInt(at + 12);
                if (captured != original) {
                    throw new AssertionError("a packet was cut short (" + captured + " of " + original + " bytes)");
                }
                segment(ByteBuffer.wrap(pcap, at + 16, captured).slice(), firstSequence, segments);
                at += 16 + captured;
            }
            Map<Flow, byte[]> streams = new LinkedHashMap<>();
            segments.forEach((flow, parts) -> streams.put(flow, assemble(flow, parts)));
            return new Recording(pcap, streams);
        }

        /** Files one Ethernet frame's TCP payload under its flow, by its offset in the stream. */
        private static void segment(ByteBuffer frame, Map<Flow, Long> firstSequence,
                Map<Flow, TreeMap<Long, byte[]>> segments) {
            if ((frame.getShort(12) & 0xffff) != 0x0800) {
                return; // not IPv4 (the test links carry only IPv4 between pods)
            }
            int ip = 14;
            int ipHeader = (frame.get(ip) & 0x0f) * 4;
            int total = frame.getShort(ip + 2) & 0xffff;
            if (frame.get(ip + 9) != 6) {
                return;
            }
            int tcp = ip + ipHeader;
            InetSocketAddress from = new InetSocketAddress(address(frame, ip + 12), frame.getShort(tcp) & 0xffff);
            InetSocketAddress to = new InetSocketAddress(address(frame, ip + 16), frame.getShort(tcp + 2) & 0xffff);
            Flow flow = new Flow(from, to);
            long seq = frame.getInt(tcp + 4) & 0xffffffffL;
            int flags = frame.get(tcp + 13);
            int tcpHeader = ((frame.get(tcp + 12) & 0xf0) >> 4) * 4;
            if ((flags & 0x02) != 0) { // SYN: the stream starts after it
                firstSequence.put(flow, (seq + 1) & 0xffffffffL);
                segments.computeIfAbsent(flow, f -> new TreeMap<>());
                return;
            }
            int payload = total - ipHeader - tcpHeader;
            if (payload <= 0) {
                return;
            }
            Long first = firstSequence.get(flow);
            if (first == null) {
                throw new AssertionError(flow + ": data of a connection whose SYN was not recorded");
            }
            byte[] data = new byte[payload];
            frame.get(tcp + tcpHeader, data);
            segments.get(flow).merge((seq - first) & 0xffffffffL, data, (a, b) -> a.length >= b.length ? a : b);
        }

        private static byte[] assemble(Flow flow, TreeMap<Long, byte[]> parts) {
            List<byte[]> chunks = new ArrayList<>();
            long next = 0;
            int size = 0;
            for (Map.Entry<Long, byte[]> e : parts.entrySet()) {
                long offset = e.getKey();
                byte[] data = e.getValue();
                if (offset > next) {
                    throw new AssertionError(flow + ": bytes " + next + ".." + offset + " were not recorded");
                }
                int skip = (int) (next - offset); // a retransmission overlapping what is already in
                if (skip < data.length) {
                    byte[] fresh = skip == 0 ? data : Arrays.copyOfRange(data, skip, data.length);
                    chunks.add(fresh);
                    size += fresh.length;
                    next += fresh.length;
                }
            }
            byte[] out = new byte[size];
            int at = 0;
            for (byte[] c : chunks) {
                System.arraycopy(c, 0, out, at, c.length);
                at += c.length;
            }
            return out;
        }

        private static InetAddress address(ByteBuffer frame, int at) {
            byte[] b = new byte[4];
            frame.get(at, b);
            try {
                return InetAddress.getByAddress(b);
            } catch (UnknownHostException e) {
                throw new IllegalStateException(e); // four bytes are always an address
            }
        }
    }
}
