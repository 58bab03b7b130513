package io.nodemesh.proxy.upgrade;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.SeqpacketSocket;
import io.nodemesh.proxy.relay.MovedConnection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The new proxy's side of an upgrade (docs/upgrade.md): connects to the running proxy's handover socket, checks that
 * it is root's, asks to take over, and receives the pods' namespaces and listening sockets ({@link #pods()}) and the
 * CNI control socket ({@link #takeControlSocket}); once the caller accepts on them it says so ({@link #accepting})
 * and receives the relays the old proxy moves ({@link #receiveRelays}). What no capture took is closed with the
 * session.
 */
public final class Takeover implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Takeover.class);

    private final SeqpacketSocket session;
    private final Map<String, InheritedPod> pods;
    private final Path controlSocketPath;
    private int controlSocketFd;
    private int cut;

    private Takeover(SeqpacketSocket session, Map<String, InheritedPod> pods, Path controlSocketPath,
            int controlSocketFd) {
        this.session = session;
        this.pods = pods;
        this.controlSocketPath = controlSocketPath;
        this.controlSocketFd = controlSocketFd;
    }

    /**
     * Takes over from the proxy listening at {@code path}, or returns null when none does (no socket file, or a
     * stale one nobody listens on).
     *
     * @throws IOException when a proxy listens there but the takeover fails (the old proxy carries on)
     */
    public static Takeover begin(Path path, Duration stepTimeout) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        SeqpacketSocket session;
        try {
            session = SeqpacketSocket.connect(path, stepTimeout);
        } catch (NativeException e) {
            if (e.errno() == NativeException.ENOENT || e.errno() == ECONNREFUSED) {
                return null; // a stale socket: the proxy before this one is gone
            }
            throw e;
        }
        Map<String, InheritedPod> pods = new LinkedHashMap<>();
        Path controlPath = null;
        int controlFd = -1;
        try {
            SeqpacketSocket.PeerCredentials who = session.peerCredentials();
            if (who.uid() != 0) {
                throw new IOException("the handover socket " + path + " is not root's (pid " + who.pid() + " uid "
                        + who.uid() + ")");
            }
            Handover.send(session, new HandoverMessage.Takeover());
            while (true) {
                Handover.Received r = Handover.receiveWithFds(session);
                HandoverMessage m = r.message();
                if (m instanceof HandoverMessage.ListenersDone done) {
                    if (done.pods() != pods.size()) {
                        throw new IOException("the old proxy announced " + done.pods() + " pod(s) and sent "
                                + pods.size());
                    }
                    break;
                }
                if (m instanceof HandoverMessage.ControlSocket control) {
                    if (controlFd >= 0) {
                        Descriptors.close(r.fds()[0]);
                        throw new IOException("the old proxy sent a second control socket");
                    }
                    controlPath = control.path();
                    controlFd = r.fds()[0];
                    continue;
                }
                if (!(m instanceof HandoverMessage.Pod pod)) {
                    throw new IOException("expected a pod, got " + m);
                }
                pods.put(pod.pod(), inherit(pod, r.fds()));
            }
        } catch (IOException | RuntimeException e) {
            pods.values().forEach(InheritedPod::close);
            if (controlFd >= 0) {
                Descriptors.close(controlFd);
            }
            Handover.tryFail(session, e.getMessage() == null ? e.toString() : e.getMessage());
            session.close();
            throw e;
        }
        log.info("taking over from {} (a proxy's handover socket, or the listener keeper): {} pod(s){}", path,
                pods.size(), controlPath == null ? "" : " and the CNI control socket " + controlPath);
        return new Takeover(session, pods, controlPath, controlFd);
    }

    private static final int ECONNREFUSED = 111;

    /** Whether a proxy listens at {@code path} (without starting a takeover: the probe connects and leaves). */
    public static boolean someoneListens(Path path) {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (SeqpacketSocket probe = SeqpacketSocket.connect(path, Duration.ofSeconds(1))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static InheritedPod inherit(HandoverMessage.Pod pod, int[] fds) throws IOException {
        NetworkNamespace netns;
        try {
            netns = NetworkNamespace.adopt(fds[0], "netns of pod " + pod.pod() + " (handed over)");
        } catch (IOException e) {
            for (int fd : fds) {
                Descriptors.close(fd);
            }
            throw e;
        }
        Map<Integer, Integer> listeners = new HashMap<>();
        for (int i = 0; i < pod.ports().size(); i++) {
            listeners.put(pod.ports().get(i), fds[i + 1]);
        }
        return new InheritedPod(pod.pod(), netns, listeners, pod.cni());
    }

    /** The pods handed over, by key; a capture takes what it uses. */
    public Map<String, InheritedPod> pods() {
        return pods;
    }

    /**
     * Takes the old proxy's CNI control socket (the caller owns the descriptor from then on) when it listens at
     * {@code path}, this proxy's own control socket path; -1 when none came or it listens elsewhere (then it is
     * closed with the session, and this proxy binds its own).
     */
    public synchronized int takeControlSocket(Path path) {
        if (controlSocketFd < 0) {
            return -1;
        }
        if (!controlSocketPath.equals(path.toAbsolutePath().normalize())) {
            log.warn("takeover: the old proxy's CNI control socket is {}, this proxy's is {}: not taken over",
                    controlSocketPath, path);
            return -1;
        }
        int fd = controlSocketFd;
        controlSocketFd = -1;
        return fd;
    }

    /** Tells the old proxy that this one accepts on the pods (and on the control socket it took), so it may stop. */
    public void accepting() throws IOException {
        Handover.send(session, new HandoverMessage.Accepting());
    }

    /**
     * Receives the relays the old proxy moves until it is done, each handed to {@code resume} (which owns its
     * descriptors from then on); returns how many came. A relay that arrives malformed is closed and counted as cut.
     */
    public int receiveRelays(Consumer<MovedConnection> resume) throws IOException {
        int received = 0;
        while (true) {
            HandoverMessage m;
            try {
                m = Handover.receive(session);
            } catch (Handover.Refused e) {
                if (e.descriptors == 2) {
                    cut++; // a relay refused: its sockets are closed, its connection cut
                    log.error("handover: refused a relay: {}", e.getMessage());
                    continue;
                }
                throw e;
            }
            switch (m) {
                case HandoverMessage.Relay relay -> {
                    received++;
                    resume.accept(relay.meta());
                }
                case HandoverMessage.Done done -> {
                    log.info("takeover done: {} relay(s) resumed here, {} connection(s) drain on the old proxy",
                            received, done.kept());
                    return received;
                }
                default -> throw new IOException("expected a relay or the end, got " + m);
            }
        }
    }

    /** Relays refused on arrival (their connections were cut). */
    public int cut() {
        return cut;
    }

    /** Ends the session and closes what no capture took (and the control socket if it was not taken). */
    @Override
    public void close() {
        session.close();
        pods.values().forEach(InheritedPod::close);
        synchronized (this) {
            if (controlSocketFd >= 0) {
                // close(2) only: the old proxy holds the same socket and accepts on it again if the takeover failed
                Descriptors.close(controlSocketFd);
                controlSocketFd = -1;
            }
        }
    }
}
