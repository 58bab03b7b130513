package io.nodemesh.demo;

import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.topology.Netns;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The demo's service phase: connections to the service address, and which endpoint the proxy sent each to. */
final class ServiceTraffic {

    /** The demo service's address: on the pods' network, held by no pod (the demo's config says the same). */
    static final InetAddress VIP = InetAddress.ofLiteral("10.77.0.100");
    static final int PORT = 80;

    /** @param byEndpoint connections each endpoint pod's inbound capture took, by pod key */
    record Result(int intact, Map<String, Long> byEndpoint) {
    }

    private ServiceTraffic() {
    }

    /** {@code connections} one after the other from {@code from} to the service, each a short echoed message. */
    static Result run(Netns from, NodeProxy proxy, List<String> endpoints, int connections) throws Exception {
        Map<String, Long> before = inbound(proxy, endpoints);
        int intact = from.call(() -> {
            int ok = 0;
            for (int i = 0; i < connections; i++) {
                byte[] message = ("service call " + i + "\n").getBytes(StandardCharsets.UTF_8);
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress(VIP, PORT), 5000);
                    s.setSoTimeout(Traffic.STALL_MILLIS);
                    OutputStream out = s.getOutputStream();
                    out.write(message);
                    s.shutdownOutput();
                    InputStream in = s.getInputStream();
                    ok += java.util.Arrays.equals(in.readAllBytes(), message) ? 1 : 0;
                }
            }
            return ok;
        });
        // The endpoint's side of the last connection may close a moment after the client's.
        long deadline = System.nanoTime() + 5_000_000_000L;
        Map<String, Long> delta;
        do {
            Map<String, Long> now = inbound(proxy, endpoints);
            delta = new LinkedHashMap<>();
            for (String pod : endpoints) {
                delta.put(pod, now.get(pod) - before.get(pod));
            }
        } while (delta.values().stream().mapToLong(Long::longValue).sum() < connections && System.nanoTime() < deadline
                && sleep());
        return new Result(intact, delta);
    }

    private static Map<String, Long> inbound(NodeProxy proxy, List<String> pods) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String pod : pods) {
            out.put(pod, proxy.pod(pod).map(p -> p.stats(Direction.INBOUND).snapshot().opened()).orElse(0L));
        }
        return out;
    }

    private static boolean sleep() throws InterruptedException {
        Thread.sleep(50);
        return true;
    }
}
