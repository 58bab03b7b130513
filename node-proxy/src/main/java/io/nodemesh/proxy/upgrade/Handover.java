package io.nodemesh.proxy.upgrade;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.SeqpacketSocket;
import java.io.IOException;

/**
 * Sends and receives {@link HandoverMessage}s on a session of either side, with the checks both make: the datagram
 * within its limit and not truncated, its control data not truncated, exactly the descriptors its type carries, and
 * each descriptor of the kind it must be (a relay's two connected TCP sockets; a pod's listening TCP sockets; its
 * namespace is proved when it is adopted; the control socket's listening {@code SOCK_SEQPACKET} socket). A refused message's descriptors are closed before the refusal is thrown.
 */
final class Handover {

    private Handover() {
    }

    static void send(SeqpacketSocket peer, HandoverMessage message, int... fds) throws IOException {
        peer.send(HandoverMessage.encode(message), fds);
    }

    /** Tells the peer why the session ends, if it still listens. */
    static void tryFail(SeqpacketSocket peer, String why) {
        try {
            send(peer, new HandoverMessage.Failed(why.length() > 4096 ? why.substring(0, 4096) : why));
        } catch (IOException e) {
            // the peer is gone: nothing to tell
        }
    }

    /** The peer said {@code failed}: it refuses, for the reason it gives. */
    static final class GaveUp extends IOException {
        GaveUp(String message) {
            super(message);
        }
    }

    /** A message that arrived and was refused; its {@code descriptors} were closed. */
    static final class Refused extends IOException {
        final int descriptors;

        Refused(String message, int descriptors) {
            super(message);
            this.descriptors = descriptors;
        }
    }

    /** A message and the descriptors that came with it (the receiver's to close; a relay's are in it too). */
    record Received(HandoverMessage message, int[] fds) {
    }

    static HandoverMessage receive(SeqpacketSocket peer) throws IOException {
        return receiveWithFds(peer).message();
    }

    static Received receiveWithFds(SeqpacketSocket peer) throws IOException {
        SeqpacketSocket.Received r = peer.receive(HandoverMessage.MAX_BYTES, HandoverMessage.MAX_FDS);
        int[] fds = r.fds();
        try {
            if (r.endOfStream()) {
                throw new IOException("the peer closed the handover session");
            }
            if (r.truncated() || r.controlTruncated()) {
                throw new IOException("a handover message larger than " + HandoverMessage.MAX_BYTES
                        + " bytes or with more than " + HandoverMessage.MAX_FDS + " descriptors");
            }
            HandoverMessage message = HandoverMessage.parse(r.data(), fds);
            switch (message) {
                case HandoverMessage.Relay relay -> requireTcp(fds, 0, false, "a relay's sockets");
                case HandoverMessage.Pod pod -> requireTcp(fds, 1, true, "pod " + pod.pod() + "'s listeners");
                case HandoverMessage.ControlSocket control -> {
                    if (!Descriptors.isSeqpacketListener(fds[0])) {
                        throw new IOException("the control socket " + control.path() + ": its descriptor ("
                                + Descriptors.describe(fds[0]) + ") is not a listening SOCK_SEQPACKET socket");
                    }
                }
                case HandoverMessage.Failed failed -> throw new GaveUp("the peer gave up: " + failed.error());
                default -> { }
            }
            return new Received(message, fds);
        } catch (IOException | RuntimeException e) {
            for (int fd : fds) {
                Descriptors.close(fd);
            }
            if (e instanceof IOException && !(e instanceof GaveUp) && !r.endOfStream()) {
                throw new Refused(e.getMessage(), fds.length);
            }
            throw e;
        }
    }

    private static void requireTcp(int[] fds, int from, boolean listening, String what) throws IOException {
        for (int i = from; i < fds.length; i++) {
            if (!Descriptors.isTcpSocket(fds[i], listening)) {
                throw new IOException(what + ": descriptor " + (i + 1) + " (" + Descriptors.describe(fds[i])
                        + ") is not a " + (listening ? "listening" : "connected") + " TCP socket");
            }
        }
    }
}
