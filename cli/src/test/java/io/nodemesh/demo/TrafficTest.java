package io.nodemesh.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The demo's client against a server that takes every byte and answers none: it gives up and says so, no exception. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class TrafficTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @Test
    void connectionsThatGetNoEchoAreCountedStalledNotThrown() throws Exception {
        Lan lan = net.lan("node");
        Netns client = lan.attach("client", "10.77.0.2/24");
        Netns silent = lan.attach("silent", "10.77.0.3/24");
        ServerSocket listener = silent.call(() -> {
            ServerSocket s = new ServerSocket();
            s.bind(new InetSocketAddress(9000));
            return s;
        });
        Queue<Socket> accepted = new ConcurrentLinkedQueue<>();
        Thread swallower = Thread.ofVirtual().start(() -> {
            try (listener) {
                while (true) {
                    Socket s = listener.accept();
                    accepted.add(s);
                    Thread.ofVirtual().start(() -> {
                        try {
                            // Reads all, answers nothing, stays open (closing its stream would close the socket).
                            s.getInputStream().transferTo(OutputStream.nullOutputStream());
                        } catch (IOException ignored) {
                            // the client gave up
                        }
                    });
                }
            } catch (IOException closed) {
                // the test is over
            }
        });
        try (Progress progress = new Progress(3)) {
            Traffic.Result result = Traffic.run(client, silent, 9000, 3, 4096, progress, 300);

            assertThat(result.stalled()).isEqualTo(3);
            assertThat(result.intact()).isZero();
        } finally {
            listener.close();
            for (Socket s : accepted) {
                s.close();
            }
            swallower.join(5_000);
        }
    }
}
