package io.nodemesh.proxy.tunnel;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.identity.MeshTls;
import io.nodemesh.proxy.model.HandshakeFailure;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** A burst of refusals is logged a line each up to the limit; the next window's first line counts those left out. */
class RefusalLogTest {

    @Test
    void logsAtMostABurstPerWindowAndThenSaysHowManyItLeftOut() {
        AtomicLong now = new AtomicLong();
        RefusalLog log = new RefusalLog(now::get);
        InetSocketAddress local = new InetSocketAddress("10.77.0.3", 15008);
        MeshTls.Refusal plaintext = new MeshTls.Refusal(HandshakeFailure.NOT_TLS, "not a TLS record");
        PrintStream original = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            for (int port = 1; port <= RefusalLog.BURST + 5; port++) {
                log.refused(local, new InetSocketAddress("10.77.0.2", port), plaintext);
            }
            now.addAndGet(TimeUnit.SECONDS.toNanos(10));
            log.refused(local, new InetSocketAddress("10.77.0.9", 4000), plaintext);
        } finally {
            System.setErr(original);
        }
        List<String> lines = err.toString(StandardCharsets.UTF_8).lines().filter(l -> l.contains("refused")).toList();
        assertThat(lines).hasSize(RefusalLog.BURST + 1);
        assertThat(lines.getFirst()).endsWith("tunnel 10.77.0.3:15008 refused a handshake from 10.77.0.2:1: not_tls "
                + "(not a TLS record)");
        assertThat(lines.getLast()).endsWith("from 10.77.0.9:4000: not_tls (not a TLS record); 5 more refused before, "
                + "not logged");
    }
}
