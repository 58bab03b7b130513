package io.nodemesh.proxy.upgrade;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.SeqpacketSocket;
import io.nodemesh.linux.UnixSocketFile;
import io.nodemesh.proxy.handoff.HandoffRequest;
import io.nodemesh.proxy.relay.MovedConnection;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The old proxy's side of an upgrade (docs/upgrade.md): an owner-only {@code SOCK_SEQPACKET} socket where the next
 * proxy on the node asks to take over. For a root peer ({@code SO_PEERCRED}) whose first datagram is a valid
 * takeover, one session, on its own thread: the pods' namespaces and listening sockets go first, with the CNI control
 * socket; once the new proxy says it accepts on them, this one stops accepting and hands over its plain relays, one by one, at moments when it
 * holds none of their bytes; what cannot move (tunnel streams) stays to drain. One takeover per proxy: the socket
 * is closed, and its file removed, before the session ends, so that the new proxy can listen there in turn.
 */
public final class HandoverSocket implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(HandoverSocket.class);
    private static final Duration STEP_TIMEOUT = Duration.ofSeconds(30);
    /** How long one relay may take to have its buffers empty before it stays to drain instead. */
    private static final long QUIESCE_MILLIS = 2_000;

    /** What a session asks of the proxy; each call from the session's thread. */
    public interface Host {
        /**
         * Stops taking new pods (the CNI control socket stops accepting, then the source's snapshots are no longer
         * applied) and names what to hand over: the pods and, when the proxy serves one, its CNI control socket.
         */
        Retired retire() throws IOException;

        /** The takeover failed before the new proxy accepted: carry on as before (the control socket accepts again). */
        void resume();

        /**
         * Stops accepting on every pod and lets the CNI control socket go (the new proxy accepts on them now), and
         * starts moving every relay that can move.
         */
        List<CompletableFuture<MovedConnection>> stopAccepting(long quiesceMillis);

        /** The session ended: {@code moved} relays went to the new proxy, {@code kept} connections drain here. */
        void handedOver(int moved, int kept);
    }

    /**
     * A pod's namespace and listeners as descriptors the proxy keeps owning, and the CNI plugin's ADD it was captured
     * for, if the plugin handed it over (else null).
     */
    public record Listeners(int netnsFd, Map<Integer, Integer> byPort, HandoffRequest cni) {
        /** The same with the plugin's ADD. */
        public Listeners withCni(HandoffRequest request) {
            return new Listeners(netnsFd, byPort, request);
        }

        /** Pod {@code key}'s message, for the next proxy or the listener keeper. */
        HandoverMessage.Pod message(String key) {
            return new HandoverMessage.Pod(key, List.copyOf(byPort.keySet()), cni);
        }

        /** The descriptors that go with {@code message}: the namespace, then one listener per port, in its order. */
        int[] descriptors(HandoverMessage.Pod message) {
            int[] fds = new int[1 + message.ports().size()];
            fds[0] = netnsFd;
            for (int i = 0; i < message.ports().size(); i++) {
                fds[i + 1] = byPort.get(message.ports().get(i));
            }
            return fds;
        }
    }

    /**
     * The CNI control socket listening at {@code path}: {@code fd} is a duplicate of the proxy's descriptor, which the
     * session closes once it is sent.
     */
    public record ControlListener(Path path, int fd) {
    }

    /** What a retiring proxy hands over: key → pod, and its control socket, or null when it serves none. */
    public record Retired(Map<String, Listeners> pods, ControlListener controlSocket) {
    }

    private final Path path;
    private final Host host;
    private final SeqpacketSocket listener;
    private final Thread acceptor;
    private final AtomicLong refused = new AtomicLong();
    private volatile boolean closed;

    private HandoverSocket(Path path, Host host, SeqpacketSocket listener) {
        this.path = path;
        this.host = host;
        this.listener = listener;
        this.acceptor = Thread.ofPlatform().name("nodemesh-handover").daemon(true).unstarted(this::acceptLoop);
    }

    /** Binds {@code path} (mode 0600; a stale socket replaced, a live one refused) and waits for a takeover. */
    public static HandoverSocket start(Path path, Host host) throws IOException {
        UnixSocketFile.prepare(path, "another nodemesh proxy already listens on its handover socket " + path);
        HandoverSocket socket = new HandoverSocket(path, host, SeqpacketSocket.listen(path, 4));
        socket.acceptor.start();
        log.info("handover socket on {}", path);
        return socket;
    }

    /** Where it listens. */
    public Path path() {
        return path;
    }

    /** Takeover requests refused (not root, malformed). */
    public long refused() {
        return refused.get();
    }

    private void acceptLoop() {
        while (!closed) {
            try (SeqpacketSocket peer = listener.accept()) {
                if (serve(peer)) {
                    return; // handed over: the socket is closed and its file gone
                }
            } catch (IOException e) {
                if (!closed) {
                    log.error("handover socket {}: accept failed, this proxy cannot be taken over: {}", path,
                            e.getMessage());
                }
                return;
            }
        }
    }

    /** One takeover session; true when the pods were handed over. */
    private boolean serve(SeqpacketSocket peer) {
        try {
            SeqpacketSocket.PeerCredentials who = peer.peerCredentials();
            peer.timeouts(STEP_TIMEOUT);
            if (who.uid() != 0) {
                refuse(peer, "the handover socket serves root only (peer pid " + who.pid() + " uid " + who.uid() + ")");
                return false;
            }
            if (!(Handover.receive(peer) instanceof HandoverMessage.Takeover)) {
                refuse(peer, "a session starts with a takeover");
                return false;
            }
        } catch (IOException e) {
            refused.incrementAndGet();
            log.warn("handover socket: refused a peer: {}", e.getMessage());
            return false;
        }
        log.info("handover socket: a new proxy takes over");
        Retired retired;
        try {
            retired = host.retire();
        } catch (IOException | RuntimeException e) {
            log.error("handover: cannot hand the pods over: {}", e.toString());
            host.resume();
            Handover.tryFail(peer, e.toString());
            return false;
        }
        Map<String, Listeners> pods = retired.pods();
        ControlListener control = retired.controlSocket();
        try {
            for (var pod : pods.entrySet()) {
                HandoverMessage.Pod message = pod.getValue().message(pod.getKey());
                Handover.send(peer, message, pod.getValue().descriptors(message));
            }
            if (control != null) {
                Handover.send(peer, new HandoverMessage.ControlSocket(control.path()), control.fd());
            }
            Handover.send(peer, new HandoverMessage.ListenersDone(pods.size()));
            if (!(Handover.receive(peer) instanceof HandoverMessage.Accepting)) {
                throw new IOException("the new proxy did not say it accepts");
            }
        } catch (IOException e) {
            log.error("handover: the new proxy did not take the listeners, this proxy carries on: {}", e.getMessage());
            host.resume();
            Handover.tryFail(peer, e.getMessage());
            return false;
        } finally {
            if (control != null) {
                Descriptors.close(control.fd()); // sent or not: the new proxy has its own, the proxy keeps its own
            }
        }
        // From here on the new proxy accepts: this one stops, whatever happens to the relays.
        closed = true;
        listener.close();
        int moved = 0;
        int kept = 0;
        long deadline = System.nanoTime() + STEP_TIMEOUT.toNanos();
        for (CompletableFuture<MovedConnection> relay : host.stopAccepting(QUIESCE_MILLIS)) {
            MovedConnection m = awaitRelay(relay, deadline);
            if (m == null) {
                kept++;
                continue;
            }
            try {
                Handover.send(peer, new HandoverMessage.Relay(m), m.downstreamFd(), m.upstreamFd());
                moved++;
            } catch (IOException e) {
                // Its channels here are closed already: the sockets die with the descriptors. Counted as cut.
                log.error("handover: a relay of pod {} ({} -> {}) could not be sent and is cut: {}", m.pod(),
                        m.source(), m.destination(), e.getMessage());
                kept++;
            } finally {
                m.close();
            }
        }
        UnixSocketFile.remove(path); // before "done": the new proxy listens here next
        try {
            Handover.send(peer, new HandoverMessage.Done(moved, kept));
        } catch (IOException e) {
            log.warn("handover: the end was not told: {}", e.getMessage());
        }
        log.info("handover: {} relay(s) moved to the new proxy, {} connection(s) drain here", moved, kept);
        host.handedOver(moved, kept);
        return true;
    }

    private static MovedConnection awaitRelay(CompletableFuture<MovedConnection> relay, long deadlineNanos) {
        try {
            return relay.get(Math.max(0, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            // Still quiescing at the session's deadline: it thaws or moves later; a late move's descriptors close.
            relay.thenAccept(late -> {
                if (late != null) {
                    log.warn("handover: a relay of pod {} became movable too late and is cut", late.pod());
                    late.close();
                }
            });
            return null;
        } catch (java.util.concurrent.ExecutionException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    private void refuse(SeqpacketSocket peer, String why) {
        refused.incrementAndGet();
        log.warn("handover socket: refused: {}", why);
        Handover.tryFail(peer, why);
    }

    /** Stops waiting for a takeover and removes the socket file (unless a session already did). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        listener.close();
        try {
            acceptor.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        UnixSocketFile.remove(path);
    }
}
