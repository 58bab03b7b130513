package io.nodemesh.cni;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.SeqpacketSocket;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A stand-in for the proxy's end of the control socket (the real one is node-proxy's): a {@link SeqpacketSocket}
 * listener that records each request with what came with it (the descriptors' namespace types, checked with
 * {@code NS_GET_NSTYPE} as the proxy checks them, the peer's uid) and answers with the reply it is given, or not at
 * all. Closing it removes the socket file.
 */
final class ControlSocketServer implements AutoCloseable {

    /** One request as it arrived: {@code namespaceTypes} has one entry per descriptor, -1 for one that is no namespace. */
    record Request(String json, List<Integer> namespaceTypes, int peerUid) {
    }

    static final String CAPTURED = "{\"ok\":true,\"state\":\"captured\",\"detail\":\"rules and listeners in place\"}";

    private final Path path;
    private final SeqpacketSocket listener;
    private final Thread acceptor;
    private final List<Request> requests = new CopyOnWriteArrayList<>();
    private volatile String reply = CAPTURED;

    private ControlSocketServer(Path path) throws IOException {
        this.path = path;
        this.listener = SeqpacketSocket.listen(path, 16);
        this.acceptor = Thread.ofPlatform().daemon().name("control-socket-server").start(this::serve);
    }

    /** Listens at {@code path}, answering every request that it is captured. */
    static ControlSocketServer answering(Path path) throws IOException {
        return new ControlSocketServer(path);
    }

    /** Answers {@code json} from now on; {@code null}: reads the request and never answers. */
    ControlSocketServer reply(String json) {
        this.reply = json;
        return this;
    }

    Path path() {
        return path;
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    private void serve() {
        while (true) {
            SeqpacketSocket connection;
            try {
                connection = listener.accept();
            } catch (IOException e) {
                return; // closed
            }
            Thread.ofPlatform().daemon().name("control-socket-connection").start(() -> answer(connection));
        }
    }

    private void answer(SeqpacketSocket connection) {
        try (connection) {
            int uid = connection.peerCredentials().uid();
            SeqpacketSocket.Received received = connection.receive(ControlMessage.MAX_BYTES, 4);
            List<Integer> types = new java.util.ArrayList<>();
            for (int fd : received.fds()) {
                try {
                    types.add(Descriptors.namespaceType(fd));
                } catch (IOException e) {
                    types.add(-1);
                } finally {
                    Descriptors.close(fd);
                }
            }
            requests.add(new Request(new String(received.data(), StandardCharsets.UTF_8), List.copyOf(types), uid));
            String answer = reply;
            if (answer == null) {
                connection.receive(1, 0); // until the client gives up and closes
                return;
            }
            connection.send(answer.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // the client went away: nothing to answer
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
        Files.deleteIfExists(path);
    }
}
