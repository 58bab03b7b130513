package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import org.junit.jupiter.api.Test;

/** The server's request/response framing on a real loopback socket. */
class LoadServerTest {

    static LoadServer startRr() throws InterruptedException {
        return LoadServer.start(LoadServer.Config.rr(new InetSocketAddress("127.0.0.1", 0)).withSizes(100, 300));
    }

    @Test
    void answersEveryCompleteRequestEvenWhenPipelinedOrSplit() throws Exception {
        try (LoadServer server = startRr(); Socket s = new Socket()) {
            s.setSoTimeout(5_000);
            s.connect(server.localAddress(), 5_000);
            OutputStream out = s.getOutputStream();
            byte[] two = new byte[200];
            System.arraycopy(LoadProtocol.request(100, LoadProtocol.KEEP_ALIVE), 0, two, 0, 100);
            System.arraycopy(LoadProtocol.request(100, LoadProtocol.KEEP_ALIVE), 0, two, 100, 100);
            out.write(two);                                   // two requests in one segment
            byte[] third = LoadProtocol.request(100, LoadProtocol.KEEP_ALIVE);
            out.write(third, 0, 30);                          // a third one in two pieces
            out.flush();
            SocketRoundTripper.readFully(s.getInputStream(), new byte[4096], 600);
            out.write(third, 30, 70);
            SocketRoundTripper.readFully(s.getInputStream(), new byte[4096], 300);
            assertThat(s.getInputStream().available()).isZero();
        }
    }

    @Test
    void closesAfterRespondingToACloseRequest() throws Exception {
        try (LoadServer server = startRr(); Socket s = new Socket()) {
            s.setSoTimeout(5_000);
            s.connect(server.localAddress(), 5_000);
            s.getOutputStream().write(LoadProtocol.request(100, LoadProtocol.CLOSE_AFTER_RESPONSE));
            InputStream in = s.getInputStream();
            SocketRoundTripper.readFully(in, new byte[300], 300);
            assertThat(in.read()).isEqualTo(-1);
        }
    }

    @Test
    void sinkCountsWhatItDiscards() throws Exception {
        LoadServer.Config config = LoadServer.Config.rr(new InetSocketAddress("127.0.0.1", 0)).withMode(ServerMode.SINK);
        try (LoadServer server = LoadServer.start(config); Socket s = new Socket()) {
            s.setSoTimeout(5_000);
            s.connect(server.localAddress(), 5_000);
            s.getOutputStream().write(new byte[100_000]);
            s.shutdownOutput();
            assertThat(s.getInputStream().read()).isEqualTo(-1); // the sink closes once it has read our FIN
            assertThat(server.sinkBytes()).isEqualTo(100_000);
        }
    }
}
