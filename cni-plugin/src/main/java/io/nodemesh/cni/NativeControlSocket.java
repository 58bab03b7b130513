package io.nodemesh.cni;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.SeqpacketSocket;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;

/**
 * The control socket and the pod's namespace through linux-native: {@link SeqpacketSocket} ({@code SOCK_SEQPACKET},
 * the descriptor by {@code SCM_RIGHTS}) and {@link Descriptors} ({@code O_RDONLY|O_CLOEXEC}, {@code NS_GET_NSTYPE}).
 * Only a pod that goes to the proxy loads these classes (and links their native calls).
 */
final class NativeControlSocket implements ProxyClient, ProxyClient.Namespaces {

    private static final int ENOENT = 2;
    private static final int ECONNREFUSED = 111;

    @Override
    public byte[] call(Path socket, Duration timeout, byte[] request, OptionalInt netnsFd) throws IOException {
        try (SeqpacketSocket connection = SeqpacketSocket.connect(socket, timeout)) {
            if (netnsFd.isPresent()) {
                connection.send(request, netnsFd.getAsInt());
            } else {
                connection.send(request);
            }
            SeqpacketSocket.Received reply = connection.receive(ControlMessage.MAX_BYTES, 0);
            if (reply.endOfStream()) {
                throw new IOException("the proxy closed the connection without a reply");
            }
            if (reply.truncated()) {
                throw new IOException("the proxy's reply is larger than " + ControlMessage.MAX_BYTES + " bytes");
            }
            return reply.data();
        } catch (NativeException e) {
            throw switch (e.errno()) {
                case ENOENT, ECONNREFUSED -> new Unreachable(e.getMessage(), e);
                case NativeException.EAGAIN -> new TimedOut(e.getMessage());
                default -> e;
            };
        }
    }

    @Override
    public int openNetwork(Path path) throws IOException {
        int fd = Descriptors.openReadOnly(path);
        int type;
        try {
            type = Descriptors.namespaceType(fd);
        } catch (IOException e) {
            Descriptors.close(fd);
            throw new NotANamespace(e.getMessage());
        }
        if (type != Descriptors.CLONE_NEWNET) {
            Descriptors.close(fd);
            throw new NotANamespace("it is a namespace of another type (" + type + ")");
        }
        return fd;
    }

    @Override
    public void close(int fd) {
        Descriptors.close(fd);
    }
}
