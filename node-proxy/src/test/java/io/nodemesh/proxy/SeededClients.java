package io.nodemesh.proxy;

import io.nodemesh.topology.Netns;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Test clients inside a pod: the sockets are opened on a thread inside the pod's namespace (so they
 * belong to it), then connected and used on virtual threads. Each sends its 4-byte id and stream
 * {@code id} of {@code requestBytes}, half-closes, and checks the reply is stream
 * {@code id + REPLY_SEED} of {@code replyBytes}.
 */
final class SeededClients {

    private SeededClients() {
    }

    /** Runs {@code count} clients at once against {@code dst:port}; returns one verdict per client ("ok" or the problem). */
    static List<String> run(Netns pod, InetAddress dst, int port, int count, long requestBytes,
                            long replyBytes) throws Exception {
        List<SocketChannel> sockets = pod.call(() -> {
            List<SocketChannel> out = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                out.add(SocketChannel.open());
            }
            return out;
        });
        List<CompletableFuture<String>> results = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            SocketChannel ch = sockets.get(i);
            int id = i;
            CompletableFuture<String> result = new CompletableFuture<>();
            results.add(result);
            Thread.ofVirtual().start(() -> result.complete(one(ch, id, new InetSocketAddress(dst, port),
                    requestBytes, replyBytes)));
        }
        List<String> verdicts = new ArrayList<>();
        for (CompletableFuture<String> r : results) {
            verdicts.add(r.get());
        }
        return verdicts;
    }

    private static String one(SocketChannel ch, int id, InetSocketAddress dst, long requestBytes, long replyBytes) {
        try (ch) {
            ch.connect(dst);
            CompletableFuture<String> sent = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    SeededData.writeInt(ch, id);
                    SeededData.write(ch, id, requestBytes);
                    ch.shutdownOutput();
                    sent.complete(null);
                } catch (Exception e) {
                    sent.complete("send failed: " + e);
                }
            });
            long[] got = SeededData.readAll(ch);
            String sendError = sent.get();
            if (sendError != null) {
                return "client " + id + ": " + sendError;
            }
            long want = SeededData.crc(id + SeededServer.REPLY_SEED, replyBytes);
            if (got[0] != replyBytes || got[1] != want) {
                return "client " + id + ": reply " + got[0] + " bytes crc " + got[1] + ", expected " + replyBytes
                        + " crc " + want;
            }
            return "ok";
        } catch (Exception e) {
            return "client " + id + ": " + e;
        }
    }
}
